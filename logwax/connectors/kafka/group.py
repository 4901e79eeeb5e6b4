"""The Kafka source in consumer-group mode: scaling the index flow is starting or stopping
processes, nothing else.

Every worker is one member of ``kafka_input.consumer_group``. Kafka assigns the partitions and
moves them whenever a member joins, leaves or dies, so no process needs to know how many others
run, and nothing is kept on local disk: positions are the group's committed offsets.

Data safety: an offset is committed only after the sink confirmed every record before it
(``core.delivery`` tells, ``offsets.OffsetTracker`` keeps the lowest unconfirmed one per
partition). A crash therefore re-reads what was not confirmed; the Elasticsearch sink writes
each record under an ``_id`` made from its event id with ``create``, so a record indexed twice
is one document (exactly once in the index).

Two members that briefly believe they own the same partition (a revoke not yet served, a
member that lost its session): both may index the same records, under the same ids, so nothing
is duplicated; the late member's commit carries an old group generation and the broker refuses
it (fenced: logged once at INFO, counted, never fatal), so only the current owner moves the
group's position.

bytewax recovery is off in this mode: a snapshot on one process's disk would hold positions of
partitions another member owns by the time it resumes, and open batches of records whose
offsets the group will hand out again anyway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from bytewax.inputs import DynamicSource, StatelessSourcePartition
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from logwax.connectors.kafka import clients
from logwax.connectors.kafka.decode import decode
from logwax.connectors.kafka.group_commits import GroupCommits
from logwax.connectors.kafka.offsets import OffsetTracker, TopicPartitionKey
from logwax.connectors.kafka.source_config import KafkaSourceConfig
from logwax.core import delivery, health, observability, shutdown
from logwax.core.metrics import (
    KAFKA_GROUP_PARTITIONS,
    KAFKA_GROUP_REBALANCES,
    SOURCE_BYTES,
    SOURCE_ERRORS,
    SOURCE_LAG,
    SOURCE_RECORDS,
    SOURCE_RETRIES,
)
from logwax.core.record import METADATA, Record, metadata

log = logging.getLogger(__name__)

# The @metadata hint carrying a record's (topic, partition, offset) to the delivery listener:
# never shipped, and out of reach of transforms that drop or rename the ``kafka`` field.
POSITION = "kafka_position"

# A graceful stop waits this long for the sink to confirm what was read, then commits.
DRAIN_SECONDS = 20.0


def _keys(partitions: list[TopicPartition]) -> list[TopicPartitionKey]:
    return [(tp.topic, tp.partition) for tp in partitions]


def _words(keys: list[TopicPartitionKey]) -> str:
    return ", ".join(f"{topic}/{partition}" for topic, partition in keys) or "none"


def _with_position(record: Record, position: tuple[str, int, int]) -> Record:
    """The record with its Kafka position as a hint; ``decode`` built its fields dict just now,
    for this record alone, so it is filled in place (a copy per record costs)."""
    fields = record.fields
    if not isinstance(fields, dict):
        return record._replace(fields={**fields, METADATA: {POSITION: position}})
    given = fields.get(METADATA)
    fields[METADATA] = (
        {**given, POSITION: position} if isinstance(given, Mapping) else {POSITION: position}
    )
    return record


class _GroupMember(StatelessSourcePartition[Record]):
    def __init__(self, config: KafkaSourceConfig, group: str, name: str) -> None:
        self._config, self._group, self._name = config, group, name
        self._tracker = OffsetTracker()
        self._interval = config.commit_interval.total_seconds()
        self._next_commit = time.monotonic() + self._interval
        self._commits = GroupCommits(self._tracker, group, name, self._interval)
        self._drain_until: float | None = None
        self._closed = False
        self._awake: datetime | None = None
        settings = clients.group_member(config, group)
        diagnose = settings.get("error_cb")

        def on_error(error: KafkaError) -> None:
            if diagnose is not None:
                diagnose(error)
            SOURCE_RETRIES.labels(name, error.name().lstrip("_").lower()).inc()
            health.source_failing(name, f"kafka {error.name()}: {error.str()}")

        self._consumer = Consumer({**settings, "error_cb": on_error})
        self._consumer.subscribe(
            list(config.topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        delivery.listen(self._on_delivered)
        KAFKA_GROUP_PARTITIONS.labels(name).set(0)
        log.info("source=%s joined consumer group %s for %s", name, group, config.topics)

    # Rebalance callbacks: librdkafka serves them inside ``consume``, in this thread.

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)
        self._tracker.assign(keys)
        self._commits.fenced_said = False
        KAFKA_GROUP_REBALANCES.labels(self._name, "assigned").inc()
        KAFKA_GROUP_PARTITIONS.labels(self._name).set(len(self._tracker.assigned()))
        log.info("source=%s group=%s assigned %s", self._name, self._group, _words(keys))

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what the sink confirmed of the partitions leaving us (the generation is still
        ours here), then forget their records in flight: the next owner starts there."""
        keys = _keys(partitions)
        self._commit(keys)
        self._tracker.revoke(keys)
        KAFKA_GROUP_REBALANCES.labels(self._name, "revoked").inc()
        KAFKA_GROUP_PARTITIONS.labels(self._name).set(len(self._tracker.assigned()))
        log.info("source=%s group=%s revoked %s", self._name, self._group, _words(keys))

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """The session expired: another member may own them already; no commit is possible."""
        keys = _keys(partitions)
        self._tracker.revoke(keys)
        KAFKA_GROUP_REBALANCES.labels(self._name, "lost").inc()
        KAFKA_GROUP_PARTITIONS.labels(self._name).set(len(self._tracker.assigned()))
        log.info("source=%s group=%s lost %s", self._name, self._group, _words(keys))

    def _on_delivered(self, records: Iterable[Record]) -> None:
        for record in records:
            position = metadata(record, POSITION)
            if position is not None:
                topic, partition, offset = position
                self._tracker.delivered((topic, partition), offset)

    def _commit(self, keys: list[TopicPartitionKey] | None = None) -> bool:
        return self._commits.commit(self._consumer, keys)

    def _tick(self) -> None:
        """Every ``commit_interval``: commit, update the lag, and move the progress clock
        /readyz watches (in this mode commits are the checkpoints, not snapshots). A failed
        commit leaves the clock where it was, so a broker that stops taking commits turns
        /readyz red after the allowed time instead of hiding a stalled checkpoint."""
        now = time.monotonic()
        if now < self._next_commit:
            return
        self._next_commit = now + self._interval
        if self._commit():
            observability.snapshot_taken()
        behind = 0
        for key in self._tracker.assigned():
            try:
                _low, high = self._consumer.get_watermark_offsets(TopicPartition(*key), cached=True)
            except KafkaException:
                continue
            behind += self._tracker.behind(key, high) or 0
        SOURCE_LAG.labels(self._name).set(behind)

    def next_batch(self) -> list[Record]:
        if self._closed:
            raise StopIteration
        if shutdown.requested():
            return self._drain()
        messages = self._consumer.consume(self._config.batch_size, timeout=0)
        records: list[Record] = []
        received = 0
        for message in messages:
            error, offset = message.error(), message.offset()
            if error is not None or offset is None:
                reason = error.name() if error is not None else "no_offset"
                SOURCE_ERRORS.labels(self._name, reason).inc()
                log.warning("source=%s kafka error: %s", self._name, error)
                continue
            topic, partition = message.topic() or "", message.partition() or 0
            received += len(message.value() or b"")
            record = decode(message)
            self._tracker.read((topic, partition), offset)
            records.append(_with_position(record, (topic, partition, offset)))
        if records:
            health.source_ok(self._name)
            SOURCE_RECORDS.labels(self._name).inc(len(records))
            SOURCE_BYTES.labels(self._name).inc(received)
        self._tick()
        self._awake = None if records else datetime.now(UTC) + timedelta(milliseconds=100)
        return records

    def _drain(self) -> list[Record]:
        """Graceful stop: read nothing more, give the sink a bounded time to confirm what was
        read, commit, leave the group (its partitions move at once), then end the stream."""
        now = time.monotonic()
        if self._drain_until is None:
            self._drain_until = now + DRAIN_SECONDS
            log.info(
                "source=%s stopping: waiting for %d records in flight",
                self._name,
                self._tracker.in_flight(),
            )
        if self._tracker.in_flight() and now < self._drain_until:
            self._commit()
            self._awake = datetime.now(UTC) + timedelta(milliseconds=50)
            return []
        self.close()
        raise StopIteration

    def next_awake(self) -> datetime | None:
        return self._awake

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        delivery.forget(self._on_delivered)
        self._commit()
        left = self._tracker.in_flight()
        self._consumer.close()
        KAFKA_GROUP_PARTITIONS.labels(self._name).set(0)
        log.info(
            "source=%s left consumer group %s (%d records read and not confirmed: the next "
            "owner reads them again)",
            self._name,
            self._group,
            left,
        )


class KafkaGroupSource(DynamicSource[Record]):
    """Reads topics with ``read_committed`` as members of one Kafka consumer group.

    Unit of parallelism: one group member per worker; Kafka spreads the partitions over every
    member of every process. Guarantee: at-least-once reading, offsets committed only after the
    sink confirmed the records; with the Elasticsearch sink's idempotent ids, exactly once in
    the index. Resumes from the group's committed offsets (``start_from`` where there is none).
    """

    def __init__(self, config: KafkaSourceConfig, name: str = "kafka") -> None:
        if config.consumer_group is None:
            raise ValueError("KafkaGroupSource needs kafka_input.consumer_group")
        self._config, self._group, self._name = config, config.consumer_group, name

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _GroupMember:
        return _GroupMember(self._config, self._group, self._name)
