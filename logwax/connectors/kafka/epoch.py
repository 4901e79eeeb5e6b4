"""One transaction of an exactly-once sink partition, with per-record refusals contained.

A sink partition commits several transactions per bytewax epoch (one at least every
``max_latency``, see ``transactional``); this is one of them. A record the broker refuses inside
a transaction (too large, invalid) puts the whole transaction in librdkafka's abortable error
state: nothing of it may be committed. So the transaction's outgoing records are kept until its
commit. On a refusal the transaction is aborted and its records are produced again in a new one:
records refused become suspects; a suspect is next produced alone (a refusal can be its batch's,
not its own) and, when refused alone, replaced by its dead letter, which then commits in the
same transaction as the rest. Each round either commits or learns about at least one record,
and the rounds are bounded. The rounds cost only when a record is refused; keeping the records
costs memory, so it is bounded: the sink partition commits before a transaction would keep more
than ``MAX_KEPT_BYTES`` (measured: 250,000 kept records of ~200 bytes took the process from
140 MB to 1.5 GB and halved its rate through garbage collection). Only a single write larger
than that is not kept, and a refusal in it stops the flow with one line instead (the restart
re-reads the topic's limits, which the sink then applies before sending, and recovery replays
the epoch).
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.outgoing import (
    PER_RECORD_REFUSALS,
    Outgoing,
    Shaper,
    positions,
    topic_records,
    value_bytes,
    who,
)
from logwax.connectors.kafka.produce import NOW, arguments
from logwax.core.errors import DeliveryError
from logwax.core.metrics import SINK_ERRORS

log = logging.getLogger(__name__)

MAX_ROUNDS = 100
MAX_KEPT_BYTES = 8 * 1024 * 1024
_PURGED = frozenset({KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT})
# What ``produce`` raises for every record after a refusal put the transaction in librdkafka's
# abortable state: a consequence when the round holds that refusal, a fault of its own if not.
_REFUSED_STATE = KafkaError._STATE


class SinkTransaction:
    def __init__(
        self,
        producer: Producer,
        config: KafkaSinkConfig,
        sink_name: str,
        shaper: Shaper,
        partition: int,
        dead_partition: int | None,
    ) -> None:
        self._producer, self._config, self._name, self._shaper = producer, config, sink_name, shaper
        self._partition, self._dead_partition = partition, dead_partition
        self._timeout = config.delivery_timeout.total_seconds()
        self.open = False
        self.opened = 0.0  # time.monotonic() of the begin, while open
        self._reset()

    def _reset(self) -> None:
        self._items: list[Outgoing] = []
        self._kept = True  # False once it outgrew MAX_KEPT_BYTES: no replay round possible
        self._kept_bytes = 0
        self._count = 0
        self._written = 0
        self._failures: list[tuple[int | None, KafkaError]] = []
        self._reports: list[tuple[Message | None, KafkaError]] = []  # named in ``_flush``
        self._suspects: set[int] = set()
        self._isolated: int | None = None

    def write(self, items: list[Outgoing]) -> None:
        if not self.open:
            self._producer.begin_transaction()
            self.open, self.opened = True, time.monotonic()
        first = self._count
        self._count += len(items)
        self._written += topic_records(items)
        if self._kept:
            self._kept_bytes += value_bytes(items)
            if self._kept_bytes <= MAX_KEPT_BYTES:
                self._items.extend(items)
            else:
                self._kept, self._items = False, []
        if self._failures or self._reports:
            return  # this round is lost already; the commit's next round produces these
        # Reports come for refusals only (the producer's ``delivery.report.only.error``): a
        # refused record must be named, and in librdkafka's abortable state the rest of the
        # queue is not purged until the abort, so waiting for it would last the whole delivery
        # timeout. A report for every delivered record cost about 0.7 µs each, for offsets
        # the sink partition now asks once per snapshot.
        produce, partition, on_delivery = (
            self._producer.produce,
            self._partition,
            self._on_delivery,
        )
        for offset, item in enumerate(items):
            if item.reason is None:  # the common case written out, as the at-least-once sink
                try:  # by position: see ``produce``
                    produce(
                        item.topic,
                        item.value,
                        item.key,
                        partition,
                        on_delivery,
                        None,
                        NOW,
                        item.headers,
                    )
                    continue
                except (BufferError, KafkaException):
                    pass  # nothing was queued: ``_produce`` waits or names the refusal
            self._produce(first + offset, item)
        self._producer.poll(0)

    @property
    def held_bytes(self) -> int:
        """The values' bytes written in the open transaction; past ``MAX_KEPT_BYTES`` it stops
        counting (past is all a caller needs to know)."""
        return self._kept_bytes

    def fits(self, items: list[Outgoing]) -> bool:
        """Whether ``items`` can join this transaction and still be kept for a replay round."""
        return self._kept_bytes + value_bytes(items) <= MAX_KEPT_BYTES

    def _on_delivery(self, error: KafkaError | None, message: Message | None) -> None:
        """One callback for every record, not a closure per record to carry its index (about
        0.2 µs each); the rare refused record is named by its value instead (``_named``)."""
        if error is not None:
            self._reports.append((message, error))

    def _named(self) -> list[tuple[int | None, KafkaError]]:
        """The reports with the index of the kept record each names, found by topic and
        value; two records with the same value are interchangeable. Not kept: no index (one
        refusal then stops the flow, see ``_learn``)."""
        reports, self._reports = self._reports, []
        if not reports:
            return []
        at = positions(self._items)
        named: list[tuple[int | None, KafkaError]] = []
        for message, error in reports:
            same = at.get((message.topic(), message.value())) if message is not None else None
            index = None
            if same:  # the record produced alone is the one its report names
                index = self._isolated if self._isolated in same else same[-1]
                same.remove(index)
            named.append((index, error))
        return named

    def _produce(self, index: int, item: Outgoing | None = None) -> None:
        item = self._items[index] if item is None else item
        dead = item.reason is not None
        while True:
            try:
                partition = (
                    self._partition
                    if not dead or self._dead_partition is None
                    else self._dead_partition
                )
                self._producer.produce(*arguments(item, self._on_delivery, partition))
                return
            except BufferError:
                self._producer.poll(0.1)
            except KafkaException as exc:
                error = exc.args[0]
                if dead or not isinstance(error, KafkaError):
                    raise
                if error.code() not in PER_RECORD_REFUSALS:
                    self._failures.append((index, error))
                    return
                # Refused locally (message.max.bytes): nothing was queued, the transaction is
                # intact; the dead letter takes the record's place.
                item = self._dead_letter(item, error)
                if self._kept:
                    self._items[index] = item
                self._written -= 1
                dead = True

    def _dead_letter(self, item: Outgoing, error: KafkaError) -> Outgoing:
        if item.reason is not None:
            SINK_ERRORS.labels(self._name, error.name()).inc()
            raise DeliveryError(
                f"sink={self._name} setting=kafka.dead_letter_topic {item.topic} refused the "
                f"dead letter of {who(item.record, len(item.value))}: {error.str()}"
            )
        return self._shaper.refused(item, error)

    def _flush(self) -> list[tuple[int | None, KafkaError]]:
        """Wait for every report, or for the first failure: after one, the rest never comes."""
        deadline = time.monotonic() + self._timeout
        remaining = self._producer.flush(0.5)
        while remaining and not self._failing() and time.monotonic() < deadline:
            remaining = self._producer.flush(0.5)
        if remaining and not self._failing():
            raise DeliveryError(
                f"sink={self._name} Kafka {self._config.topic}[{self._partition}]: {remaining} "
                "records unconfirmed at commit (setting kafka.delivery_timeout); the flow stops,"
                " the open transaction is aborted by the next producer and recovery replays it"
            )
        failures, self._failures = self._failures, []
        return failures + self._named()

    def _failing(self) -> bool:
        return bool(self._failures or self._reports)

    def commit(self) -> tuple[int, int]:
        """Commit; returns the records committed to the topic and to the dead letters."""
        failures = self._flush()
        for _round in range(MAX_ROUNDS):
            if not failures:
                try:
                    self._producer.commit_transaction(self._timeout)
                except KafkaException as exc:
                    error = exc.args[0]
                    if not (isinstance(error, KafkaError) and error.txn_requires_abort()):
                        raise
                    failures = [(None, error)]
                else:
                    return self._committed()
            self._learn(failures)
            self._producer.abort_transaction(self._timeout)
            self._producer.poll(0)
            self._failures, self._reports = [], []  # purge reports of the aborted round
            self._producer.begin_transaction()
            failures = self._replay()
        raise DeliveryError(
            f"sink={self._name} Kafka {self._config.topic}[{self._partition}]: a transaction still "
            f"failed after {MAX_ROUNDS} transaction rounds; the flow stops and recovery replays it"
        )

    def _committed(self) -> tuple[int, int]:
        # Kept: count what is in the topic now (refusals became dead letters in the rounds).
        # Not kept: no round ran, only local refusals changed the count, and they did so.
        written = topic_records(self._items) if self._kept else self._written
        result = (written, self._count - written)
        self.open = False
        self.opened = 0.0  # time.monotonic() of the begin, while open
        self._reset()
        return result

    def _learn(self, failures: list[tuple[int | None, KafkaError]]) -> None:
        """Suspects from this round's refusals; dead letters for suspects refused alone."""
        if not self._kept and failures:
            _index, error = failures[0]
            SINK_ERRORS.labels(self._name, error.name()).inc()
            raise DeliveryError(
                f"sink={self._name} Kafka {self._config.topic}[{self._partition}]: a record "
                f"was refused ({error.str()}) in one write over {MAX_KEPT_BYTES >> 20} MiB, "
                "too large to replay here; the flow stops, the transaction is aborted, the "
                "restart re-reads the topic's limits and recovery replays the epoch "
                "(a smaller batch.max_bytes keeps each write replayable)"
            )
        refusals = any(
            index is not None and error.code() in PER_RECORD_REFUSALS for index, error in failures
        )
        for index, error in failures:
            if error.fatal():
                raise DeliveryError(
                    f"sink={self._name} Kafka {self._config.topic}[{self._partition}]: "
                    f"{error.str()}; the flow stops and recovery replays the epoch"
                )
            if (
                index is None
                or error.code() in _PURGED
                or (refusals and error.code() == _REFUSED_STATE)
            ):
                continue  # a consequence of another record's refusal, or no record named
            if error.code() not in PER_RECORD_REFUSALS:
                SINK_ERRORS.labels(self._name, error.name()).inc()
                item = self._items[index]
                raise DeliveryError(
                    f"sink={self._name} Kafka {self._config.topic}[{self._partition}]: "
                    f"{error.str()} ({who(item.record, len(item.value))}); the flow stops,"
                    " the transaction is aborted and recovery replays it"
                )
            if index == self._isolated:
                self._items[index] = self._dead_letter(self._items[index], error)
                self._suspects.discard(index)
            else:
                self._suspects.add(index)
        self._isolated = None

    def _replay(self) -> list[tuple[int | None, KafkaError]]:
        """Produce the transaction again, reports for each record, suspects one at a time."""
        for index in range(len(self._items)):
            if index not in self._suspects:
                self._produce(index)
        failures = self._flush()
        if failures:
            return failures
        for index in sorted(self._suspects):
            self._isolated = index
            self._produce(index)
            failures = self._flush()
            if failures:
                return failures
            self._suspects.discard(index)
        self._isolated = None
        return []
