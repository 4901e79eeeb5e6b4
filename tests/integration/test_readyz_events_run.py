"""``logwax run`` of the events flow, its ``/readyz`` asked over HTTP while the ServiceAccount's
token is revoked and replaced: 503 naming the source (after ``health.source_failure_grace`` from
the pipeline file), 200 again once it reads, and every Event in Elasticsearch once."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from elasticsearch import Elasticsearch

from devtools.home import free_port
from tests.integration.brokers import Brokers, Cluster
from tests.integration.flow_runs import STARTED, es_event_ids, stop_gracefully, wait_for
from tests.integration.kube_access import grant, recreate_account, revoke_token, wait_status
from tests.integration.kube_helpers import core_api, create_event
from tests.integration.pipelines import es_sink, write_pipeline


def readyz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return 0, str(exc)


def test_readyz_says_503_naming_the_source_while_its_token_is_revoked(
    tmp_path: Path,
    servers: Brokers,
    kube: Cluster,
    kube_namespace: str,
    es: Elasticsearch,
    new_index_prefix: Callable[[], str],
) -> None:
    access = grant(kube.kubeconfig, kube_namespace, tmp_path)
    core = core_api(kube.kubeconfig)
    prefix = new_index_prefix()
    config = write_pipeline(
        tmp_path,
        "readyz_test",
        flow="events",
        sources=[
            {
                "type": "kubernetes_events",
                "name": "events",
                "kubeconfig": str(access.kubeconfig),
                "namespaces": [kube_namespace],
                "watch_timeout": "2s",
            }
        ],
        elasticsearch=es_sink(servers, prefix, "%Y"),
        health={"source_failure_grace": "2s"},
    )
    port = free_port()
    log = tmp_path / "logwax.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "logwax", "run", "-c", str(config), "--metrics-port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=dict(os.environ),
        )
    STARTED.append(proc)

    def delivered(count: int) -> Callable[[], bool]:
        def check() -> bool:
            es.indices.refresh(index=f"{prefix}-*", allow_no_indices=True)
            return sum(es_event_ids(es, prefix).values()) >= count

        return check

    for i in range(3):
        create_event(core, kube_namespace, f"before{i}")
    wait_for("the first Events", delivered(3), proc, log, timeout=60)
    wait_for("/readyz 200", lambda: readyz(port)[0] == 200, proc, log, timeout=30)

    revoke_token(access)
    wait_status(access, "list", 401)
    answers: list[tuple[int, str]] = []
    wait_for(
        "/readyz 503",
        lambda: answers.append(readyz(port)) or answers[-1][0] == 503,
        proc,
        log,
        timeout=30,
        poll=0.2,
    )
    recreate_account(access)
    for i in range(3):
        create_event(core, kube_namespace, f"after{i}")
    wait_for("the Events after", delivered(6), proc, log, timeout=60)
    wait_for("/readyz 200 again", lambda: readyz(port)[0] == 200, proc, log, timeout=30)
    stop_gracefully(proc)

    body = answers[-1][1]
    assert "source events failing" in body and "unauthorized" in body, body
    ids = es_event_ids(es, prefix)
    assert len(ids) == 6 and max(ids.values()) == 1
