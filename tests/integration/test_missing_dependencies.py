"""A topic the index flow should read that does not exist is said at once, and again, never
silently skipped; when it appears it is read."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Producer
from prometheus_client import REGISTRY

from logwax.connectors.kafka.admin import delete_topics, ensure_topic
from logwax.connectors.kafka.source import KafkaSource
from logwax.connectors.kafka.source_config import KafkaSourceConfig
from logwax.core import health
from tests.integration.brokers import Brokers
from tests.integration.flow_runs import read_partition


def missing(topic: str) -> float | None:
    labels = {"component": "source kafka-missing", "what": f"topic {topic}"}
    return REGISTRY.get_sample_value("logwax_dependency_missing", labels)


def test_a_missing_topic_is_a_warning_and_a_metric_then_read_once_created(
    servers: Brokers, kafka_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"missing-{uuid.uuid4().hex[:8]}"
    config = KafkaSourceConfig(
        bootstrap_servers=servers.kafka_bootstrap, topics=[topic], partition_scan_interval=1
    )
    health.reset()
    part = KafkaSource(config, name="kafka-missing").build_part("s", "shard-0", None)
    try:
        with caplog.at_level(logging.WARNING, logger="logwax.core.health"):
            assert read_partition(part, 1, 2.5) == []  # several scans: one WARNING only
        warnings = [r.getMessage() for r in caplog.records if topic in r.getMessage()]
        assert len(warnings) == 1 and "does not exist" in warnings[0], warnings
        assert missing(topic) == 1
        ensure_topic(kafka_config, topic, partitions=1)
        producer = Producer(kafka_config)
        producer.produce(topic, b'{"message": "now it exists"}')
        producer.flush(10)
        deadline = time.monotonic() + 30
        got: list[Any] = []
        while not got and time.monotonic() < deadline:
            got = read_partition(part, 1, 2)
        assert [r.message for r in got] == ["now it exists"]
        assert missing(topic) == 0
    finally:
        part.close()
        delete_topics(kafka_config, [topic])
        health.reset()
