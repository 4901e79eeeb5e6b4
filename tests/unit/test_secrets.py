"""Secrets inline, from the environment or from files; never in reprs, dumps or errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.connectors.kafka import clients
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.core.errors import ConfigError
from logwax.settings import PipelineConfig, parse_config

SASL = "sasl-Secret-0b5e"
KEY_PASSWORD = "key-Secret-77a1"
API_KEY = "YXBpLWtleS1zZWNyZXQtOTk="


def sasl_security(**extra: object) -> dict[str, object]:
    return {
        "protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "collect",
        **extra,
    }


def test_kafka_secrets_come_from_files_read_when_a_client_is_built(tmp_path: Path) -> None:
    password, key_password = tmp_path / "password", tmp_path / "key-password"
    password.write_text(SASL + "\n")  # as `echo` and `kubectl --from-file` leave it
    key_password.write_text(KEY_PASSWORD)
    config = KafkaSinkConfig(
        bootstrap_servers="b:9093",
        topic="t",
        security=sasl_security(
            sasl_password_file=password,
            ssl_key_password_file=key_password,
            ssl_certificate_location=tmp_path / "client.pem",
            ssl_key_location=tmp_path / "client.key",
        ),
    )
    options = clients.producer(config)
    assert options["sasl.password"] == SASL
    assert options["ssl.key.password"] == KEY_PASSWORD
    password.write_text("rotated")  # a Secret updated in place counts for the next client
    assert clients.reader("b:9093", config.security, "check")["sasl.password"] == "rotated"
    for shown in (repr(config), str(config), config.model_dump_json()):
        assert SASL not in shown and KEY_PASSWORD not in shown


def test_a_secret_is_inline_or_a_file_not_both(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="sasl_password or sasl_password_file"):
        KafkaSinkConfig(
            bootstrap_servers="b",
            topic="t",
            security=sasl_security(sasl_password=SASL, sasl_password_file=tmp_path / "p"),
        )
    with pytest.raises(ValidationError, match="api_key or api_key_file"):
        ElasticsearchSinkConfig(hosts=["h"], api_key=API_KEY, api_key_file=tmp_path / "k")
    with pytest.raises(ValidationError, match="ssl_key_location"):
        KafkaSinkConfig(
            bootstrap_servers="b",
            topic="t",
            security={"protocol": "SSL", "ssl_certificate_location": tmp_path / "c"},
        )


def test_an_unreadable_secret_file_names_the_setting_and_the_file_only(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    config = KafkaSinkConfig(
        bootstrap_servers="b", topic="t", security=sasl_security(sasl_password_file=missing)
    )
    with pytest.raises(ConfigError, match=r"sasl_password_file: .*nope: cannot be read"):
        clients.producer(config)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    es = ElasticsearchSinkConfig(hosts=["https://h:9200"], username="u", password_file=empty)
    with pytest.raises(ConfigError, match=r"password_file: .*empty: is empty"):
        es.client()


def test_elasticsearch_api_key_and_password_from_files(tmp_path: Path) -> None:
    key_file, password_file = tmp_path / "api-key", tmp_path / "password"
    key_file.write_text(API_KEY + "\n")
    password_file.write_text(SASL)
    with_key = ElasticsearchSinkConfig(hosts=["https://h:9200"], api_key_file=key_file)
    headers = with_key.client()._headers  # what every request carries
    assert headers["authorization"] == f"ApiKey {API_KEY}"
    with_password = ElasticsearchSinkConfig(
        hosts=["https://h:9200"], username="indexer", password_file=password_file
    )
    assert with_password.client()._headers["authorization"].startswith("Basic ")
    with pytest.raises(ValidationError, match="username and password"):
        ElasticsearchSinkConfig(hosts=["h"], password_file=password_file)
    for config in (with_key, with_password):
        assert API_KEY not in repr(config) and SASL not in config.model_dump_json()


def test_secrets_from_the_environment_stay_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGWAX_KAFKA__SECURITY__SASL_PASSWORD", SASL)
    monkeypatch.setenv("LOGWAX_ELASTICSEARCH__API_KEY", API_KEY)
    config = parse_config(
        {
            "sources": [{"type": "files", "name": "app", "include": ["/var/log/*.log"]}],
            "kafka": {"bootstrap_servers": "b:9093", "topic": "t", "security": sasl_security()},
            "elasticsearch": {"hosts": ["https://h:9200"]},
        },
        "pipeline.yaml",
    )
    assert isinstance(config, PipelineConfig) and config.kafka and config.elasticsearch
    assert clients.producer(config.kafka)["sasl.password"] == SASL
    assert config.elasticsearch.api_key and config.elasticsearch.api_key.get_secret_value()
    shown = repr(config) + config.model_dump_json()
    assert SASL not in shown and API_KEY not in shown


def test_a_config_error_about_a_secret_does_not_echo_it() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(
            {
                "sources": [{"type": "files", "name": "app", "include": ["/var/log/*.log"]}],
                "elasticsearch": {"hosts": ["h"], "api_key": API_KEY, "username": SASL[:3]},
            },
            "pipeline.yaml",
        )
    assert "api_key or username" in str(raised.value) and API_KEY not in str(raised.value)


def test_verify_certs_off_is_said_loudly_once(caplog: pytest.LogCaptureFixture) -> None:
    config = ElasticsearchSinkConfig(hosts=["https://h:9200"], verify_certs=False)
    with caplog.at_level(logging.WARNING):
        config.client()
    lines = [r.getMessage() for r in caplog.records if "verify_certs" in r.getMessage()]
    assert len(lines) == 1 and "NOT checked" in lines[0] and "https://h:9200" in lines[0]


def test_a_refused_credential_is_explained_and_retried_a_few_times_a_minute() -> None:
    import random

    from logwax.connectors.elasticsearch import refusal

    page = "<html><head><title>401 Authorization Required</title></head><body>x</body></html>"
    line = refusal.explain(["https://es:9200"], 401, page, "logs-2026")
    assert line == (
        "elasticsearch=https://es:9200 fix=elasticsearch.api_key / api_key_file or username / "
        "password / password_file reason=HTTP 401: 401 Authorization Required"
    )
    assert "create_doc on logs-2026" in refusal.explain(["h"], 403, "forbidden", "logs-2026")
    rng = random.Random(7)
    waits = [refusal.wait_seconds(attempt, rng) for attempt in range(1, 12)]
    assert 4 <= waits[0] <= 6 and max(waits) <= 72
    assert sum(1 for total in _running_sums(waits) if total <= 60) <= 4  # attempts in a minute


def _running_sums(values: list[float]) -> list[float]:
    sums, total = [], 0.0
    for value in values:
        total += value
        sums.append(total)
    return sums
