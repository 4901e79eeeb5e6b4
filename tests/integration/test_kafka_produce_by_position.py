"""The sinks call confluent-kafka's ``produce()`` with arguments by position (see
``logwax.connectors.kafka.produce``): against a real broker, each argument must land where its
keyword puts it. A confluent-kafka that reordered its C signature would fail here, not in a
shipped record."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from logwax.connectors.kafka.produce import ANY_PARTITION, NOW
from tests.integration.kafka_helpers import read_all

HEADERS = [("event_id", b"files:7"), ("source", b"files")]


def test_arguments_by_position_land_where_their_keywords_put_them(
    kafka_config: dict[str, Any], new_topic: Any
) -> None:
    topic = new_topic(partitions=3)
    reports: list[tuple[KafkaError | None, Message | None]] = []

    def on_delivery(error: KafkaError | None, message: Message | None) -> None:
        reports.append((error, message))

    producer = Producer({**kafka_config, "acks": "all"})
    before_ms = int(time.time() * 1000)
    producer.produce(topic, b"to partition 2", b"k1", 2, on_delivery, None, NOW, HEADERS)
    producer.produce(topic, b"by position", b"k2", ANY_PARTITION, on_delivery, None, NOW, HEADERS)
    producer.produce(topic, value=b"by keyword", key=b"k2", headers=HEADERS)
    assert producer.flush(30) == 0
    after_ms = int(time.time() * 1000)

    assert [error for error, _ in reports] == [None, None]  # the callback got both reports
    by_value = {m.value(): m for m in read_all(kafka_config, topic, committed_only=False)}
    assert set(by_value) == {b"to partition 2", b"by position", b"by keyword"}
    explicit, positional, keyword = (
        by_value[v] for v in (b"to partition 2", b"by position", b"by keyword")
    )
    assert explicit.partition() == 2
    assert positional.partition() == keyword.partition()  # the key chose it, as with keywords
    for message, key in ((explicit, b"k1"), (positional, b"k2")):
        assert message.key() == key
        assert message.headers() == HEADERS
        assert before_ms <= message.timestamp()[1] <= after_ms


def test_a_refused_record_reaches_the_callback_given_by_position(
    kafka_config: dict[str, Any], new_topic: Any
) -> None:
    """The slot after the callback is its alias: given None there, the callback still hears
    of a record the broker refuses."""
    topic = new_topic()
    reports: list[KafkaError | None] = []
    producer = Producer({**kafka_config, "message.timeout.ms": 5000})
    producer.produce(
        topic, b"x", None, 7, lambda error, _: reports.append(error), None, NOW, HEADERS
    )  # partition 7 of a one-partition topic
    producer.flush(15)
    assert len(reports) == 1 and reports[0] is not None
    assert reports[0].code() == KafkaError._UNKNOWN_PARTITION
