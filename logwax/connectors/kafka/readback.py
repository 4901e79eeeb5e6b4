"""Reading back what a transactional sink partition committed after its last snapshot.

Used at start-up by the exactly-once sink (see ``transactional``): the event ids found were
committed by a run that crashed before bytewax stored the epoch, so their replays are skipped.
A refused topic READ or group DESCRIBE is waited out like the rest of the sink's start
(``read_back``), not a crash that the restarted job repeats.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from logwax.connectors.kafka import clients, diagnosis
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.decode import header
from logwax.core.errors import DeliveryError


def committed_event_ids(
    client: dict[str, Any],
    topic: str,
    partition: int,
    start: int,
    timeout: float = 60.0,
    only: tuple[str, str] | None = None,
) -> tuple[set[str], int]:
    """Event ids in ``topic[partition]`` from ``start`` to its end, as read_committed sees them,
    and the offset the read ended at. ``client`` is a read_committed reader that reports the
    partition's end. ``only`` = (header, value) keeps messages carrying it: a dead-letter topic
    partition is shared by several sink partitions."""
    consumer = Consumer(client)
    found: set[str] = set()
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        if high <= max(start, low):
            return found, max(start, low)
        consumer.assign([TopicPartition(topic, partition, max(start, low))])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return found, high
                raise KafkaException(error)
            if only is not None and header(message, only[0]) != only[1]:
                continue
            event_id = header(message, "event_id")
            if event_id is not None:
                found.add(event_id)
        raise DeliveryError(f"read-back of {topic}[{partition}] did not reach its end")
    finally:
        consumer.close()


def read_back(
    config: KafkaSinkConfig,
    topic: str,
    partition: int,
    start: int,
    only: tuple[str, str] | None = None,
) -> tuple[set[str], int]:
    """``committed_event_ids`` with a reader built anew at each attempt (secret files re-read);
    a refused credential, certificate or ACL is said once and waited out (``diagnosis``)."""
    bootstrap = config.bootstrap_servers

    def attempt() -> tuple[set[str], int]:
        client = clients.reader(bootstrap, config.security, "readback", until_eof=True)
        return committed_event_ids(client, topic, partition, start, only=only)

    return diagnosis.patiently(bootstrap, attempt)
