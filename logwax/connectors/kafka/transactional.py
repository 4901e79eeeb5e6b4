"""Exactly-once Kafka sink: one transaction per bytewax epoch, per Kafka partition.

bytewax writes every item of epoch E to a sink partition before it asks that partition for its
``snapshot()``, and writes nothing of E+1 before. So each sink partition (one per Kafka partition,
the only writer of it) opens a transaction on the first write of an epoch and commits it in
``snapshot()``; the snapshot holds the offset after the committed records. The crash windows:

* before the commit: the restarted producer, using the same stable ``transactional.id``, fences
  the old one and aborts its transaction; ``read_committed`` readers never see those records,
  and bytewax replays them from the sources;
* after the commit, before bytewax stored the epoch: the records are visible *and* replayed.
  On start each partition reads back, with ``read_committed``, what was committed after its
  snapshot offset and skips replayed records whose event ids it finds there. The replay can
  span several epochs, so until every read-back id has come by, snapshots keep the old
  read-back offset: a crash during the replay reads back the same region again;
* after both: nothing to do.

The guarantee holds for ``read_committed`` consumers, for records with deterministic event ids,
with one writer per topic partition (this sink), and while ``transaction.timeout.ms`` exceeds
the snapshot interval. It does not cover other producers writing the same topic.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from logwax.connectors.kafka import clients
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.decode import header
from logwax.connectors.kafka.sink import record_key
from logwax.core.errors import DeliveryError
from logwax.core.metrics import SINK_BATCH_SECONDS, SINK_ERRORS, SINK_RECORDS, SINK_SKIPPED
from logwax.core.record import Record

log = logging.getLogger(__name__)

# Resume state: the offset after the last record this partition committed (None: never).
NextOffset = int | None


# Fault injection for the crash tests: the process kills itself right after its Nth Kafka
# commit, before bytewax can store the epoch: the one window the read-back exists for.
CRASH_AFTER_COMMIT_ENV = "LOGWAX_FAULT_KILL_AFTER_COMMIT"
_commits = 0
# A replay longer than this many snapshots means the skipped ids will not come (a source whose
# ids changed); the read-back set is then dropped rather than kept forever.
MAX_REPLAY_SNAPSHOTS = 1000


def _crash_point_after_commit() -> None:
    global _commits
    _commits += 1
    if os.environ.get(CRASH_AFTER_COMMIT_ENV) == str(_commits):
        log.warning("fault injection: SIGKILL after commit %d", _commits)
        os.kill(os.getpid(), signal.SIGKILL)


def committed_event_ids(
    client: dict[str, Any], topic: str, partition: int, start: int, timeout: float = 60.0
) -> set[str]:
    """Event ids in ``topic[partition]`` from ``start`` to its end, as read_committed sees them."""
    consumer = Consumer(client)
    found: set[str] = set()
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        if high <= max(start, low):
            return found
        consumer.assign([TopicPartition(topic, partition, max(start, low))])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return found
                raise KafkaException(error)
            event_id = header(message, "event_id")
            if event_id is not None:
                found.add(event_id)
        raise DeliveryError(f"read-back of {topic}[{partition}] did not reach its end")
    finally:
        consumer.close()


class _TransactionalPartition(StatefulSinkPartition[list[Record], NextOffset]):
    def __init__(
        self,
        config: KafkaSinkConfig,
        sink_name: str,
        transactional_id: str,
        partition: int,
        resume: NextOffset,
    ) -> None:
        self._config, self._name, self._partition = config, sink_name, partition
        self._next_offset = resume
        self._readback_from = resume
        self._replay_snapshots = 0
        self._producer = Producer(
            {**clients.transactional_producer(config, transactional_id), "logger": log}
        )
        # Fences a zombie with the same id and aborts whatever it left open.
        self._producer.init_transactions(60)
        self._skip = committed_event_ids(
            clients.reader(config.bootstrap_servers, config.security, "readback", until_eof=True),
            config.topic,
            partition,
            resume or 0,
        )
        if self._skip:
            log.info(
                "sink=%s partition=%d %d records committed after the snapshot; skipping "
                "their replays",
                sink_name,
                partition,
                len(self._skip),
            )
        self._in_transaction = False
        self._uncommitted = 0
        self._failures: list[KafkaError] = []
        self._last_offset: int | None = None

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(error)
        else:
            offset = message.offset()
            if offset is not None and (self._last_offset is None or offset > self._last_offset):
                self._last_offset = offset

    def write_batch(self, batches: list[list[Record]]) -> None:
        started = time.monotonic()
        values = [record for batch in batches for record in batch]
        fresh = [r for r in values if r.event_id not in self._skip]
        if self._skip and len(fresh) < len(values):
            self._skip.difference_update(r.event_id for r in values)
        if len(fresh) < len(values):
            SINK_SKIPPED.labels(self._name).inc(len(values) - len(fresh))
        if not fresh:
            return
        if not self._in_transaction:
            self._producer.begin_transaction()
            self._in_transaction = True
        # A delivery report per record cost about 1 µs each in Python; only the batch's last
        # record reports (records of one partition are delivered in order, so its offset is the
        # highest). A failure of any other record still stops the flow: librdkafka then puts the
        # transaction in its abortable error state and ``commit_transaction`` raises.
        for record in fresh[:-1]:
            self._produce(record, None)
        self._produce(fresh[-1], self._on_delivery)
        self._uncommitted += len(fresh)
        self._producer.poll(0)
        self._check_failures()
        SINK_BATCH_SECONDS.labels(self._name).observe(time.monotonic() - started)

    def _produce(
        self, record: Record, on_delivery: Callable[[KafkaError | None, Message], None] | None
    ) -> None:
        while True:
            try:
                self._producer.produce(
                    self._config.topic,
                    value=record.to_json_bytes(),
                    key=record_key(record, self._config.key),
                    partition=self._partition,
                    headers=[
                        ("event_id", record.event_id.encode()),
                        ("source", record.source.encode()),
                    ],
                    on_delivery=on_delivery,
                )
                return
            except BufferError:
                self._producer.poll(0.1)

    def _check_failures(self) -> None:
        if self._failures:
            first = self._failures[0]
            SINK_ERRORS.labels(self._name, first.name()).inc(len(self._failures))
            raise DeliveryError(
                f"Kafka {self._config.topic}[{self._partition}]: {len(self._failures)} records "
                f"failed in the transaction ({first.str()}); the flow stops, the open "
                "transaction is aborted by the next producer and recovery replays it"
            )

    def snapshot(self) -> NextOffset:
        """Commit the epoch's transaction; the new resume point is after what it committed."""
        if self._in_transaction:
            started = time.monotonic()
            remaining = self._producer.flush(self._config.delivery_timeout.total_seconds())
            self._check_failures()
            if remaining:
                raise DeliveryError(
                    f"Kafka {self._config.topic}[{self._partition}]: "
                    f"{remaining} records unconfirmed at commit"
                )
            self._producer.commit_transaction(self._config.delivery_timeout.total_seconds())
            _crash_point_after_commit()
            self._in_transaction = False
            if self._last_offset is not None:
                self._next_offset = self._last_offset + 1
            SINK_RECORDS.labels(self._name).inc(self._uncommitted)
            self._uncommitted = 0
            SINK_BATCH_SECONDS.labels(self._name).observe(time.monotonic() - started)
        if self._skip:
            # Replays of records committed before the crash are still to come (they can span
            # several epochs): keep reading back from the old point if we crash again.
            self._replay_snapshots += 1
            if self._replay_snapshots <= MAX_REPLAY_SNAPSHOTS:
                return self._readback_from
            log.warning(
                "sink=%s partition=%d %d read-back ids never replayed; forgetting them",
                self._name,
                self._partition,
                len(self._skip),
            )
            self._skip = set()
        return self._next_offset

    def close(self) -> None:
        if self._in_transaction:
            self.snapshot()
        self._producer.flush(10)


def partition_name(index: int) -> str:
    """Zero-padded, so bytewax's sorted partition names are in Kafka's partition order."""
    return f"{index:05d}"


class ExactlyOnceKafkaSink(FixedPartitionedSink[list[Record], NextOffset]):
    """Produces each epoch's records to one topic in Kafka transactions, exactly once.

    Unit of parallelism: one sink partition per Kafka partition of the topic, each with its own
    transactional producer (``transactional.id`` = ``<prefix>-<topic>-<partition>``); records
    are routed by key, so order per key holds. Guarantee: exactly-once for ``read_committed``
    consumers (see the module docstring for the windows and the limits). Resumes from the offset
    after the partition's last committed record, reading back what was committed after it.
    """

    def __init__(
        self, config: KafkaSinkConfig, transactional_prefix: str, name: str = "kafka"
    ) -> None:
        self._config = config
        self._prefix = transactional_prefix
        self._name = name

    def list_parts(self) -> list[str]:
        consumer = Consumer(
            clients.reader(self._config.bootstrap_servers, self._config.security, "metadata")
        )
        try:
            topic = consumer.list_topics(self._config.topic, timeout=30).topics[self._config.topic]
        finally:
            consumer.close()
        if topic.error is not None:
            raise DeliveryError(
                f"Kafka topic {self._config.topic}: {topic.error.str()}; create "
                "it first (its partition count fixes the sink's partitions)"
            )
        return [partition_name(p) for p in sorted(topic.partitions)]

    def part_fn(self, item_key: str) -> int:
        """Items are keyed by their Kafka partition's name already (see ``partition_name``)."""
        return int(item_key)

    def build_part(
        self, step_id: str, for_part: str, resume_state: NextOffset
    ) -> _TransactionalPartition:
        transactional_id = f"{self._prefix}-{self._config.topic}-{for_part}"
        return _TransactionalPartition(
            self._config, self._name, transactional_id, int(for_part), resume_state
        )


class _WakePartition(StatelessSourcePartition[tuple[str, list[Record]]]):
    def __init__(self, keys: list[str]) -> None:
        self._keys: list[str] | None = keys

    def next_batch(self) -> list[tuple[str, list[Record]]]:
        if self._keys is None:
            raise StopIteration
        items: list[tuple[str, list[Record]]] = [(key, []) for key in self._keys]
        self._keys = None
        return items


class WakeEveryPartition(DynamicSource[tuple[str, list[Record]]]):
    """One empty batch for every sink partition at start-up, then end of input.

    bytewax builds a sink partition only when its first item arrives. After a crash, a partition
    that gets no new records would never run ``init_transactions``, so the transaction its
    killed producer left open would hold back ``read_committed`` readers of that Kafka
    partition until the broker's transaction timeout. Waking every partition fences and aborts
    those at once (and runs their read-back).
    """

    def __init__(self, partition_keys: list[str]) -> None:
        self._keys = partition_keys

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _WakePartition:
        return _WakePartition(self._keys if worker_index == 0 else [])
