"""How large one record may be, learnt from the producer and the broker before anything is sent.

Two limits apply to a produced record: the producer's ``message.max.bytes`` (librdkafka refuses
larger messages locally) and the topic's ``max.message.bytes`` (the broker refuses a larger
record *batch*; after compression, but we count uncompressed bytes, which is never smaller).
The topic's is read with the admin API at start; when that is not allowed or the topic is not
there yet, the broker's default is assumed and said once in the log.

The producer's ``batch.size`` is capped at the smallest topic limit: otherwise librdkafka packs
many small records into one batch larger than a topic with a lowered limit accepts, and the
broker refuses all of them together.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource

log = logging.getLogger(__name__)

# librdkafka's default ``message.max.bytes`` and the broker's default ``max.message.bytes``.
PRODUCER_DEFAULT = 1_000_000
BROKER_DEFAULT = 1_048_588
# Framing a record adds on top of key, value and headers: a record batch header (61 bytes),
# the record's own varints and attributes (up to 21), and per header two length varints.
BATCH_OVERHEAD = 96
HEADER_OVERHEAD = 10


def record_size(
    value: bytes, key: bytes | None, headers: list[tuple[str, str | bytes | None]]
) -> int:
    """Bytes a record takes on the wire when alone in its batch, uncompressed."""
    size = BATCH_OVERHEAD + len(value) + (len(key) if key else 0)
    for name, content in headers:
        size += len(name) + len(content or b"") + HEADER_OVERHEAD
    return size


def topic_limits(client: dict[str, Any], topics: list[str]) -> dict[str, int]:
    """``max.message.bytes`` of each topic, as the broker enforces it."""
    admin = AdminClient(client)
    found: dict[str, int] = {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, topic) for topic in topics]
    for resource, future in admin.describe_configs(resources, request_timeout=30).items():
        try:
            entries = future.result(timeout=30)
            found[resource.name] = int(entries["max.message.bytes"].value)
        except (KafkaException, KeyError, ValueError) as exc:
            log.warning(
                "topic=%s max.message.bytes not readable (%s); assuming the broker default %d"
                " (DESCRIBE_CONFIGS on the topic lets logwax read it; a lower limit is learnt"
                " from the broker's first refusal)",
                resource.name,
                exc,
                BROKER_DEFAULT,
            )
            found[resource.name] = BROKER_DEFAULT
    return found


class SizeLimits:
    """The byte limit per destination topic, each the smaller of producer's and topic's."""

    def __init__(self, client: dict[str, Any], producer_options: dict[str, Any], topics: list[str]):
        self._client = client
        self.producer = int(producer_options.get("message.max.bytes", PRODUCER_DEFAULT))
        self._topics = topic_limits(client, topics) if topics else {}

    def of(self, topic: str) -> int:
        """Limit for ``topic``; one not seen at start (a routed target's) is looked up once."""
        if topic not in self._topics:
            self._topics.update(topic_limits(self._client, [topic]))
        return min(self.producer, self._topics[topic])

    def refresh(self, topic: str) -> None:
        """Read ``topic``'s limit again: the broker refused a record sized to fit, so it was
        lowered while we ran; records from now on are sized against the new one."""
        self._topics.update(topic_limits(self._client, [topic]))

    def batch_size(self, configured: int | None) -> int:
        """``batch.size`` that keeps every batch acceptable to every topic known at start."""
        smallest = min([self.producer, *self._topics.values()])
        return min(configured or PRODUCER_DEFAULT, smallest - BATCH_OVERHEAD)

    def describe(self, topic: str) -> str:
        return (
            f"message.max.bytes={self.producer} "
            f"topic {topic} max.message.bytes={self._topics.get(topic, BROKER_DEFAULT)}"
        )
