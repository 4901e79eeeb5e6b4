"""Topic housekeeping through confluent-kafka's own AdminClient."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic


def ensure_topic(
    client_config: dict[str, Any], topic: str, partitions: int = 1, replication: int = 1
) -> bool:
    """Create ``topic`` unless it exists; returns True when it was created now."""
    admin = AdminClient(client_config)
    future = admin.create_topics([NewTopic(topic, partitions, replication)])[topic]
    try:
        future.result(timeout=30)
    except KafkaException as exc:
        if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise
    return True


def delete_topics(client_config: dict[str, Any], topics: list[str]) -> None:
    if not topics:
        return
    admin = AdminClient(client_config)
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise


def topic_end_offsets(client_config: dict[str, Any], topic: str) -> dict[int, int]:
    """High watermark per partition: what a reader of the whole topic would reach."""
    consumer = Consumer({**client_config, "group.id": "logwax-admin", "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in metadata.partitions
        }
    finally:
        consumer.close()
