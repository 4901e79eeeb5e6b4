"""Elasticsearch over TLS with credentials: the real Elasticsearch behind nginx, which checks the
TLS side, basic auth and API keys (the integ-test distribution has no security module; see the
README's Security section for what is proven this way)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from devtools import es_proxy
from devtools.es_proxy import SecuredElasticsearch
from tests.integration.brokers import Brokers
from tests.integration.flow_runs import (
    assert_each_once,
    assert_unseen,
    es_event_ids,
    launch,
    launch_watched,
    logwax_check,
    logwax_command,
    served,
    stop_gracefully,
    wait_delivered,
    wait_for,
)
from tests.integration.pipelines import files_source, write_numbered_lines, write_pipeline

USER = "indexer"
PASSWORD = f"es-pw-{secrets.token_hex(8)}"
API_KEY = f"YXBpa2V5{secrets.token_hex(8)}"
FORBIDDEN_KEY = f"Zm9yYmlk{secrets.token_hex(8)}"
LINES = 1000


@pytest.fixture(scope="module")
def proxy(
    servers: Brokers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecuredElasticsearch]:
    home = tmp_path_factory.mktemp("es-proxy")
    started = es_proxy.start(
        home, servers.elasticsearch_url, {USER: PASSWORD}, [API_KEY], [FORBIDDEN_KEY]
    )
    yield started
    es_proxy.stop(started)


def pipeline(tmp_path: Path, prefix: str, **elasticsearch: Any) -> Path:
    write_numbered_lines(tmp_path / "logs", 1, LINES)
    return write_pipeline(
        tmp_path,
        "secure_es",
        sources=[files_source(tmp_path)],
        elasticsearch={
            "index": f"{prefix}-%Y",
            "dead_letter_index": f"{prefix}-dead",
            **elasticsearch,
        },
    )


@pytest.mark.parametrize("auth", ["api_key_file", "password_file", "verify_off"])
def test_records_arrive_through_tls_with_each_credential(
    tmp_path: Path,
    proxy: SecuredElasticsearch,
    es: Elasticsearch,
    new_index_prefix: Callable[[], str],
    auth: str,
) -> None:
    prefix = new_index_prefix()
    secret = tmp_path / "secret"
    settings: dict[str, Any]
    if auth == "api_key_file":
        secret.write_text(API_KEY + "\n")
        settings = {"hosts": [proxy.api_key_url], "api_key_file": str(secret)}
    else:
        secret.write_text(PASSWORD + "\n")
        settings = {"hosts": [proxy.basic_url], "username": USER, "password_file": str(secret)}
    if auth == "verify_off":
        settings["verify_certs"] = False
    else:
        settings["ca_certs"] = str(proxy.ca_file)
    config = pipeline(tmp_path, prefix, **settings)
    proc = launch(config, tmp_path)
    log = tmp_path / "logwax.log"
    wait_delivered(proc, log, LINES, es=es, prefix=prefix, timeout=120)
    stop_gracefully(proc, log)
    text = log.read_text()
    assert len(es_event_ids(es, prefix)) == LINES
    warnings = text.count("verify_certs is false")
    assert warnings == (1 if auth == "verify_off" else 0)  # loud, but once, not per request
    assert "InsecureRequestWarning" not in text and PASSWORD not in text and API_KEY not in text


def check(config: Path) -> str:
    return logwax_check(config, timeout=60)[1]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong CA", "fix=elasticsearch.ca_certs reason=certificate verify failed: unable to get"),
        ("hostname", "fix=elasticsearch.hosts reason=certificate verify failed: Hostname mismatch"),
        ("403", "fix=the credential's privileges reason=HTTP 403: 403 Forbidden"),
    ],
)
def test_check_says_why_elasticsearch_refuses(
    tmp_path: Path, proxy: SecuredElasticsearch, case: str, expected: str
) -> None:
    settings: dict[str, Any] = {"hosts": [proxy.api_key_url], "api_key": API_KEY}
    if case == "hostname":
        settings["hosts"] = [proxy.api_key_url.replace("127.0.0.1", "localhost")]
        settings["ca_certs"] = str(proxy.ca_file)
    elif case == "403":
        settings.update(api_key=FORBIDDEN_KEY, ca_certs=str(proxy.ca_file))
    out = check(pipeline(tmp_path, "check", **settings))
    print(out)
    fails = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and expected in fails[0] and "Traceback" not in out
    assert API_KEY not in out and FORBIDDEN_KEY not in out


def test_wrong_password_waits_says_why_once_and_delivers_after_the_file_is_fixed(
    tmp_path: Path,
    proxy: SecuredElasticsearch,
    es: Elasticsearch,
    new_index_prefix: Callable[[], str],
) -> None:
    """No restart: the password file is corrected while the job waits; every record then
    arrives exactly once, nothing is dead-lettered, and no secret appears in any output (logs
    at DEBUG, /metrics, /readyz, status, validate, check)."""
    prefix = new_index_prefix()
    wrong = f"wrong-{secrets.token_hex(6)}"
    secret = tmp_path / "password"
    secret.write_text(wrong)
    config = pipeline(
        tmp_path,
        prefix,
        hosts=[proxy.basic_url],
        ca_certs=str(proxy.ca_file),
        username=USER,
        password_file=str(secret),
    )
    outputs = [check(config)]
    proc, log, port = launch_watched(config, tmp_path, "--log-level", "DEBUG")
    wait_for("the refusal", lambda: "fix=elasticsearch." in log.read_text(), proc, log, timeout=60)
    status, why = served(port, "/readyz")
    assert status == 503 and "HTTP 401" in why and "password_file" in why
    time.sleep(12)  # long enough for two more attempts, which must not repeat the line
    refusals = re.findall(r"fix=elasticsearch\.[^\n]*", log.read_text())
    assert len(refusals) == 1, refusals
    assert es.count(index=f"{prefix}-*", allow_no_indices=True)["count"] == 0
    outputs.append(served(port, "/metrics")[1])
    status_command = ("status", "--url", f"http://127.0.0.1:{port}", "--once", "--interval", "0.5")
    outputs.append(logwax_command(*status_command, timeout=30).stdout)

    secret.write_text(PASSWORD + "\n")  # the operator fixes the Secret; no restart
    wait_delivered(proc, log, LINES, es=es, prefix=prefix, timeout=120)
    outputs.append(served(port, "/readyz")[1])
    outputs.append(served(port, "/metrics")[1])
    outputs.append(check(config))
    outputs.append(logwax_command("validate", "-c", str(config), timeout=30).stdout)
    stop_gracefully(proc, log)
    assert_each_once(es_event_ids(es, prefix), LINES)
    assert not es.indices.exists(index=f"{prefix}-dead")
    outputs.append(log.read_text())
    assert_unseen(outputs, wrong, PASSWORD)


def test_a_wrong_ca_waits_says_why_and_delivers_once_the_ca_file_is_fixed(
    tmp_path: Path,
    proxy: SecuredElasticsearch,
    es: Elasticsearch,
    new_index_prefix: Callable[[], str],
) -> None:
    """The CA file (a mounted ConfigMap) holds the wrong CA; once it is replaced in place the
    job goes on by itself, every record once."""
    import trustme

    prefix = new_index_prefix()
    ca = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca))
    config = pipeline(
        tmp_path, prefix, hosts=[proxy.api_key_url], api_key=API_KEY, ca_certs=str(ca)
    )
    proc, log, port = launch_watched(config, tmp_path)
    fix = "fix=elasticsearch.ca_certs reason=certificate verify failed: unable to get local"
    wait_for("the certificate refusal", lambda: fix in log.read_text(), proc, log, timeout=60)
    code, why = served(port, "/readyz")
    assert code == 503 and fix in why
    ca.write_bytes(proxy.ca_file.read_bytes())
    wait_delivered(proc, log, LINES, es=es, prefix=prefix, timeout=120)
    stop_gracefully(proc, log)
    assert_each_once(es_event_ids(es, prefix), LINES)
    text = log.read_text()
    assert text.count(fix) == 1 and "Traceback" not in text and API_KEY not in text
