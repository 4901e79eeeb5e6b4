from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.connectors.elasticsearch.retry import Outcome, classify
from logwax.connectors.kafka import clients
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.core.record import Record, metadata, with_metadata


def test_kafka_producer_is_idempotent_with_acks_all() -> None:
    config = KafkaSinkConfig(bootstrap_servers="b:9092", topic="t", compression="zstd")
    options = clients.producer(config)
    assert options["acks"] == "all"
    assert options["enable.idempotence"] is True
    assert options["compression.type"] == "zstd"


def test_kafka_passthrough_cannot_weaken_delivery() -> None:
    with pytest.raises(ValidationError, match="acks"):
        KafkaSinkConfig(bootstrap_servers="b", topic="t", producer_options={"acks": "1"})


def test_kafka_sasl_needs_credentials_and_hides_the_password() -> None:
    with pytest.raises(ValidationError, match="sasl_username"):
        KafkaSinkConfig(bootstrap_servers="b", topic="t", security={"protocol": "SASL_SSL"})
    config = KafkaSinkConfig(
        bootstrap_servers="b",
        topic="t",
        security={
            "protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "u",
            "sasl_password": "hunter2",
        },
    )
    assert clients.producer(config)["sasl.password"] == "hunter2"
    transactional = clients.transactional_producer(config, "tx-1")
    readback = clients.reader("b", config.security, "readback", until_eof=True)
    for options in (transactional, readback):
        assert options["sasl.password"] == "hunter2"
        assert options["security.protocol"] == "SASL_SSL"
    assert transactional["enable.idempotence"] is True and readback["enable.auto.commit"] is False
    assert "hunter2" not in repr(config) and "hunter2" not in config.model_dump_json()


def test_elasticsearch_index_comes_from_the_record_time() -> None:
    config = ElasticsearchSinkConfig(hosts=["http://es:9200"], index="logs-%Y.%m.%d")
    assert config.index_for(datetime(2026, 1, 2, 23, 59, tzinfo=UTC)) == "logs-2026.01.02"


def test_elasticsearch_rejects_uppercase_index_and_mixed_auth() -> None:
    with pytest.raises(ValidationError, match="lowercase"):
        ElasticsearchSinkConfig(hosts=["h"], index="Logs-%Y")
    with pytest.raises(ValidationError, match="api_key or username"):
        ElasticsearchSinkConfig(hosts=["h"], api_key="k", username="u", password="p")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (201, Outcome.DELIVERED),
        (409, Outcome.DELIVERED),
        (429, Outcome.RETRY),
        (503, Outcome.RETRY),
        (400, Outcome.REJECTED),
        (404, Outcome.REJECTED),
        (401, Outcome.REFUSED),
        (403, Outcome.REFUSED),
    ],
)
def test_bulk_item_classification(status: int, outcome: Outcome) -> None:
    assert classify(status) is outcome


def test_metadata_hints_reach_the_kafka_topic_but_are_never_shipped() -> None:
    record = Record("s", "st", "id-1", 0, "hello", {"host": "a"})
    routed = with_metadata(record, kafka_topic="other")
    assert metadata(routed, "kafka_topic") == "other"
    assert metadata(record, "kafka_topic") is None
    assert "@metadata" not in routed.to_document()
    assert routed.to_document()["host"] == "a"
