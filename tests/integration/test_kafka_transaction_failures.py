"""A record the broker refuses inside a transaction must stop the flow and commit nothing.

The exactly-once sink asks for a delivery report only for the last record of each batch; a
failure of any earlier record is caught by the transaction itself (librdkafka's abortable error
state makes ``commit_transaction`` raise). This proves that against a real broker: one record
too large for the topic, followed by small ones that the broker would accept.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from connectors.kafka.config import KafkaSinkConfig
from connectors.kafka.transactional import ExactlyOnceKafkaSink, partition_name
from logwax.errors import DeliveryError
from logwax.record import Record
from tests.integration.kafka_helpers import read_all


def record(i: int, message: str) -> Record:
    return Record("t", "stream", f"e{i}", 0, message, {})


def test_a_refused_record_before_the_last_fails_the_commit_and_nothing_shows(
    kafka_config: dict[str, Any], new_topic: Callable[..., str]
) -> None:
    topic = new_topic(1)
    admin = AdminClient(kafka_config)
    limit = ConfigEntry("max.message.bytes", "4096", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[limit])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)
    config = KafkaSinkConfig(
        bootstrap_servers=kafka_config["bootstrap.servers"],
        topic=topic,
        exactly_once=True,
        compression="none",
        linger="0s",
        delivery_timeout="10s",
        producer_options={"batch.size": 2048},
    )
    sink = ExactlyOnceKafkaSink(config, f"test-{os.getpid()}")
    part = sink.build_part("sink", partition_name(0), None)
    too_large = os.urandom(6000).hex()
    batch = [record(0, too_large)] + [record(i, "small") for i in range(1, 50)]
    with pytest.raises((DeliveryError, KafkaException)) as failure:
        part.write_batch([batch])
        part.snapshot()
    print("stopped by:", failure.value)
    assert read_all(kafka_config, topic) == []
