"""bytewax source reading Kafka topics with read_committed, positions kept in snapshots.

bytewax's own KafkaSource discovers partitions only at start. Here a fixed number of shards
(bytewax partitions) each own the Kafka partitions that hash onto them and look for new ones
periodically, so a topic that grows partitions is followed without a restart.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zlib import adler32

from bytewax.inputs import FixedPartitionedSource
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from logwax.connectors.base import SourcePartition
from logwax.connectors.kafka import clients, diagnosis
from logwax.connectors.kafka.decode import decode
from logwax.connectors.kafka.source_config import KafkaSourceConfig
from logwax.core import health
from logwax.core.metrics import (
    SOURCE_BYTES,
    SOURCE_ERRORS,
    SOURCE_LAG,
    SOURCE_RECORDS,
    SOURCE_RETRIES,
)
from logwax.core.record import Record
from logwax.core.retry import Backoff

log = logging.getLogger(__name__)

# Resume state: "topic/partition" → next offset to read.
KafkaPositions = dict[str, int]


class _KafkaShard(SourcePartition[KafkaPositions]):
    def __init__(
        self, config: KafkaSourceConfig, shard: int, resume: KafkaPositions | None, name: str
    ) -> None:
        self._config, self._shard, self._name = config, shard, name
        self._positions: KafkaPositions = dict(resume or {})
        self._consumer = Consumer(self._consumer_settings())
        self._assigned: set[str] = set()
        self._next_scan = 0.0
        self._backoff = Backoff(1.0, 8.0)
        self._refusals = 0
        self._awake: datetime | None = None

    def _consumer_settings(self) -> dict[str, Any]:
        """The consumer's settings with both error hooks: the security diagnosis (a refused
        credential, certificate or ACL said once) and this source's health and retry count."""
        settings = clients.consumer(self._config)
        diagnose = settings.get("error_cb")

        def on_error(error: KafkaError) -> None:
            if diagnose is not None:
                diagnose(error)
            self._client_error(error)

        return {**settings, "error_cb": on_error}

    def _client_error(self, error: KafkaError) -> None:
        """librdkafka reconnects by itself (with its own backoff); we count and show it, so a
        broker that stays away is a failing source on /readyz, not a quiet one."""
        SOURCE_RETRIES.labels(self._name, error.name().lstrip("_").lower()).inc()
        health.source_failing(self._name, f"kafka {error.name()}: {error.str()}")

    def _owns(self, key: str) -> bool:
        return adler32(key.encode()) % self._config.shards == self._shard

    def _scan(self) -> None:
        """Assign partitions of ours not yet assigned (new topics' partitions included)."""
        try:
            with health.in_flight(f"source {self._name}", "Kafka metadata request"):
                metadata = self._consumer.list_topics(timeout=10)
        except KafkaException as exc:
            if self._waited_out_refusal():  # a credential, certificate or ACL to fix
                return
            delay = self._backoff.next()  # anything else: retried after a backoff
            SOURCE_RETRIES.labels(self._name, "metadata").inc()
            health.source_failing(self._name, f"metadata: {exc}")
            log.warning(
                "source=%s kafka metadata failed: %s; retrying in %.1fs", self._name, exc, delay
            )
            self._next_scan = time.monotonic() + delay
            return
        self._backoff.reset()
        health.source_ok(self._name)
        if self._refusals:
            self._refusals = 0
            diagnosis.cleared(self._config.bootstrap_servers)
        new: list[TopicPartition] = []
        for topic in self._config.topics:
            described = metadata.topics.get(topic)
            if described is not None and described.error is not None:
                self._refused(described.error, topic)
            absent = described is None or described.error is not None
            health.dependency(
                f"source {self._name}",
                f"topic {topic}",
                absent,
                "Create it, or fix kafka_input.topics.",
            )
            if described is None or described.error is not None:
                continue
            for partition in described.partitions:
                key = f"{topic}/{partition}"
                if key in self._assigned or not self._owns(key):
                    continue
                default = OFFSET_BEGINNING if self._config.start_from == "earliest" else OFFSET_END
                new.append(TopicPartition(topic, partition, self._positions.get(key, default)))
                self._assigned.add(key)
        if new:
            self._consumer.incremental_assign(new)
            log.info(
                "source=%s shard=%d assigned %s",
                self._name,
                self._shard,
                ", ".join(f"{tp.topic}/{tp.partition}@{tp.offset}" for tp in new),
            )
        self._next_scan = time.monotonic() + self._config.partition_scan_interval

    def read(self) -> list[Record]:
        if time.monotonic() >= self._next_scan:
            self._scan()
        if not self._assigned:
            self._awake = datetime.now(UTC) + timedelta(seconds=1)
            return []
        messages = self._consumer.consume(self._config.batch_size, timeout=0)
        records: list[Record] = []
        received = 0
        for message in messages:
            error, offset = message.error(), message.offset()
            if error is not None or offset is None:
                reason = error.name() if error is not None else "no_offset"
                SOURCE_ERRORS.labels(self._name, reason).inc()
                if error is None or not self._refused(error, message.topic()):
                    log.warning("source=%s kafka error: %s", self._name, error)
                continue
            received += len(message.value() or b"")
            records.append(decode(message))
            self._positions[f"{message.topic()}/{message.partition()}"] = offset + 1
        if records:
            health.source_ok(self._name)
            if diagnosis.last_reason(self._config.bootstrap_servers) is not None:
                diagnosis.cleared(self._config.bootstrap_servers)  # an ACL granted meanwhile
            SOURCE_RECORDS.labels(self._name).inc(len(records))
            SOURCE_BYTES.labels(self._name).inc(received)
        self._awake = None if records else datetime.now(UTC) + timedelta(milliseconds=100)
        return records

    def _waited_out_refusal(self) -> bool:
        """After a failed metadata request: if the broker refused the credential or the
        certificate, scan again later (a few times a minute) with a consumer built anew, which
        reads the secret files again; False for any other failure."""
        if self._assigned:
            return diagnosis.last_reason(self._config.bootstrap_servers) is not None
        self._consumer.poll(0.5)  # nothing assigned, so nothing to lose: serves the callbacks
        if diagnosis.last_reason(self._config.bootstrap_servers) is None:
            return False
        self._refusals += 1
        self._next_scan = time.monotonic() + diagnosis.wait_seconds(self._refusals)
        self._consumer.close()
        self._consumer = Consumer(self._consumer_settings())
        return True

    def _refused(self, error: KafkaError, topic: str | None) -> bool:
        """An ACL refusal is said once a minute at most, and on /readyz (see ``diagnosis``)."""
        reason = f"{error.name()}: {error.str()} (topic {topic})"
        if diagnosis.setting_for(reason) is None:
            return False
        diagnosis.record(self._config.bootstrap_servers, reason)
        return True

    def position(self) -> KafkaPositions:
        SOURCE_LAG.labels(self._name).set(len(self._assigned))
        return dict(self._positions)

    def close(self) -> None:
        self._consumer.close()


class KafkaSource(FixedPartitionedSource[Record, KafkaPositions]):
    """Reads topics with ``read_committed`` into records (event ids from the ``event_id`` header).

    Unit of parallelism: ``shards`` partitions, each owning the Kafka partitions that hash onto
    it and picking up new ones while running. Guarantee: at-least-once; the snapshot holds the
    next offset of every owned Kafka partition, and a resumed flow seeks back to it. Resumes
    from those offsets; consumer-group offsets are never used.
    """

    def __init__(self, config: KafkaSourceConfig, name: str = "kafka") -> None:
        self._config = config
        self._name = name

    def list_parts(self) -> list[str]:
        return [f"shard-{i}" for i in range(self._config.shards)]

    def build_part(
        self, step_id: str, for_part: str, resume_state: KafkaPositions | None
    ) -> _KafkaShard:
        return _KafkaShard(self._config, int(for_part.split("-")[1]), resume_state, self._name)
