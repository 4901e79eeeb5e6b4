"""The exactly-once sink and a missing topic: a clear error by default, created when asked."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from logwax.connectors.kafka.admin import delete_topics
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.transactional import ExactlyOnceKafkaSink
from logwax.core.errors import DeliveryError
from tests.integration.brokers import Brokers


def _sink(servers: Brokers, topic: str, **extra: Any) -> ExactlyOnceKafkaSink:
    config = KafkaSinkConfig(
        bootstrap_servers=servers.kafka_bootstrap, topic=topic, exactly_once=True, **extra
    )
    return ExactlyOnceKafkaSink(config, transactional_prefix=f"create-{topic}")


def test_a_missing_topic_is_an_error_that_names_the_setting(servers: Brokers) -> None:
    topic = f"missing-{uuid.uuid4().hex[:10]}"
    with pytest.raises(DeliveryError, match="create_topic"):
        _sink(servers, topic).list_parts()


def test_create_topic_makes_the_topic_with_the_partitions_asked_for(
    servers: Brokers, kafka_config: dict[str, Any]
) -> None:
    topic = f"created-{uuid.uuid4().hex[:10]}"
    creation = {"partitions": 3, "replication_factor": 1}
    try:
        parts = _sink(servers, topic, create_topic=creation).list_parts()
        again = _sink(servers, topic, create_topic=creation).list_parts()  # exists: no error
    finally:
        delete_topics(kafka_config, [topic])
    assert len(parts) == 3 and parts == again
