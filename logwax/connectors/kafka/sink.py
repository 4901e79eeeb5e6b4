"""Kafka sink that confirms every delivery before bytewax may move the input checkpoint.

bytewax's stock ``KafkaSink`` flushes without a delivery callback, so a failed delivery is dropped
silently. Here every record's delivery report is checked. A record the broker refuses on its own
account (too large, invalid) goes to the dead-letter topic with the reason, and the rest of the
batch flows on. A refusal an operator must fix (an ACL, a credential) is said once and waited
out: the refused records are sent again, a few times a minute, by a producer built anew (secret
files re-read), so granting the ACL or fixing the Secret lets the job go on without a restart
(a stopped flow would only be refused again). Any other failure raises, which stops the flow,
and on restart bytewax rewinds the sources to the last snapshot and the records are sent
again. The batch returns only when each record, or its dead letter, is acknowledged: a
position never passes a record that is in neither place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from logwax.connectors.kafka import clients, diagnosis, transport
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.limits import SizeLimits
from logwax.connectors.kafka.outgoing import (
    PER_RECORD_REFUSALS,
    Outgoing,
    Shaper,
    positions,
    record_key,
    topic_records,
    who,
)
from logwax.connectors.kafka.produce import ANY_PARTITION, NOW, arguments
from logwax.core.errors import DeliveryError
from logwax.core.metrics import SINK_BATCH_SECONDS, SINK_ERRORS, SINK_RECORDS
from logwax.core.record import Record

log = logging.getLogger(__name__)
OnDelivery = Callable[[KafkaError | None, Message | None], None]

__all__ = ["KafkaSink", "record_key"]


def sink_limits(config: KafkaSinkConfig) -> SizeLimits:
    """The limits of the sink's topic and dead-letter topic, read from the broker at start."""
    topics = [config.topic] + ([config.dead_letter_topic] if config.dead_letter_topic else [])
    client = clients.connection(config.bootstrap_servers, config.security)
    return SizeLimits(client, config.producer_options, topics)


def producer_settings(config: KafkaSinkConfig, limits: SizeLimits) -> dict[str, object]:
    """Both sinks' producer. Delivery reports come for refused records only: a flush that
    returns with nothing left confirms the rest, and a report per delivered record (a Python
    call and a copy of its value) cost 0.3-0.7 s per million lines."""
    configured = config.producer_options.get("batch.size")
    return {
        **clients.producer(config),
        "batch.size": limits.batch_size(int(configured) if configured is not None else None),
        "delivery.report.only.error": True,
    }


class _KafkaSinkPartition(StatelessSinkPartition[list[Record]]):
    def __init__(self, config: KafkaSinkConfig, sink_name: str) -> None:
        self._config = config
        self._sink_name = sink_name
        limits = sink_limits(config)
        self._shaper = Shaper(config, limits, sink_name)
        self._limits = limits
        self._producer = self._new_producer()
        self._flush_timeout = config.delivery_timeout.total_seconds() + 10

    def write_batch(self, batches: list[list[Record]]) -> None:
        started = time.monotonic()
        topic, hint = self._config.topic, self._config.topic_from_metadata
        records = batches[0] if len(batches) == 1 else [r for b in batches for r in b]
        outgoing = self._shaper.shape_many(records, topic, hint)
        refused = self._send_patiently(outgoing)
        # A refusal can be the batch's, not the record's: each refused record is tried alone
        # once more, and only a record refused alone is dead-lettered.
        for item, error in self._send_each([item for item, _ in refused]):
            size = len(item.value)
            dead = self._shaper.refused(item, error)
            for again, still in self._send_each([dead]):
                SINK_ERRORS.labels(self._sink_name, still.name()).inc()
                raise DeliveryError(
                    f"sink={self._sink_name} setting=kafka.dead_letter_topic {again.topic} "
                    f"refused the dead letter of {who(item.record, size)}: {still.str()}"
                )
        delivered = topic_records(outgoing) - len(refused)  # dead letters not counted
        SINK_RECORDS.labels(self._sink_name).inc(delivered)
        SINK_BATCH_SECONDS.labels(self._sink_name).observe(time.monotonic() - started)

    def _send_patiently(self, outgoing: list[Outgoing]) -> list[tuple[Outgoing, KafkaError]]:
        """``_send``, waiting out refusals an operator must fix (see the module docstring);
        after ``diagnosis.GIVE_UP_AFTER_S`` of them the flow stops with the one line."""
        bootstrap = self._config.bootstrap_servers
        started, attempt, pending = time.monotonic(), 0, outgoing
        refused: list[tuple[Outgoing, KafkaError]] = []
        while True:
            own, blocked, line = self._send(pending)
            refused += own
            if not blocked:
                if attempt:
                    log.warning(
                        "kafka=%s accepted again after %d refused attempts", bootstrap, attempt
                    )
                    diagnosis.cleared(bootstrap)
                return refused
            attempt += 1
            SINK_ERRORS.labels(self._sink_name, "refused").inc(len(blocked))
            if time.monotonic() - started > diagnosis.GIVE_UP_AFTER_S:
                raise DeliveryError(f"sink={self._sink_name} {line}; the flow stops")
            time.sleep(diagnosis.wait_seconds(attempt))
            self._producer.flush(0)
            self._producer = self._new_producer()
            pending = blocked

    def _new_producer(self) -> Producer:
        """Settings (and secret files) read now: a fixed Secret counts at the next attempt."""
        settings = producer_settings(self._config, self._limits)
        return Producer(transport.counted(self._sink_name, settings))

    def _send(
        self, outgoing: list[Outgoing]
    ) -> tuple[list[tuple[Outgoing, KafkaError]], list[Outgoing], str | None]:
        """Produce and confirm; returns the records refused on their own account, those an
        operator's refusal held back, and that refusal's line.

        Reports come for refused records only (``producer_settings``), so a flush that leaves
        nothing unconfirmed delivered every record no report names. A report names its record
        by its value (the payload the broker took, byte for byte), looked up among
        ``outgoing``; two records with the same value are interchangeable. A refusal raised by
        the producer itself (its id refused: no WRITE) holds back the whole call: it comes when
        the producer starts, before anything is delivered, and a record delivered before it
        would only be sent twice, which at-least-once allows.
        """
        bootstrap = self._config.bootstrap_servers
        failures: list[tuple[Outgoing, KafkaError]] = []
        reported: list[tuple[Message | None, KafkaError]] = []
        report = reported.append
        line: str | None = None

        def on_delivery(error: KafkaError | None, message: Message | None) -> None:
            if error is not None:
                report((message, error))

        produce = self._producer.produce
        try:
            for item in outgoing:
                try:  # by position: see ``produce``
                    produce(
                        item.topic,
                        item.value,
                        item.key,
                        ANY_PARTITION,
                        on_delivery,
                        None,
                        NOW,
                        item.headers,
                    )
                except (BufferError, KafkaException):
                    self._produce(item, on_delivery, failures)
            with transport.awaiting(self._sink_name, f"{len(outgoing)} records awaiting acks"):
                unconfirmed = self._producer.flush(self._flush_timeout)
        except (KafkaException, SystemError) as exc:
            # A producer refused its id (no topic WRITE) is in a fatal state: it raises from
            # produce, or from flush while serving reports (wrapped in a SystemError).
            raised = exc if isinstance(exc, KafkaException) else exc.__cause__
            if not isinstance(raised, KafkaException):
                raise
            line = diagnosis.raised_refusal(bootstrap, raised)
            if line is None:
                raise
            return [], outgoing, line
        if unconfirmed > 0:
            SINK_ERRORS.labels(self._sink_name, "flush_timeout").inc()
            raise DeliveryError(
                f"sink={self._sink_name} Kafka topic {self._config.topic}: deliveries "
                f"unconfirmed after {self._flush_timeout:.0f}s (setting kafka.delivery_timeout);"
                " the flow stops so that recovery replays them"
            )
        if reported:
            failures += _named(outgoing, reported)
        blocked: list[Outgoing] = []
        fatal: list[tuple[Outgoing, KafkaError]] = []
        for item, e in failures:
            if e.code() in PER_RECORD_REFUSALS:
                continue
            said = diagnosis.refusal(bootstrap, e)
            if said is None:
                fatal.append((item, e))
            else:
                blocked.append(item)
                line = said
        if fatal:
            item, error = fatal[0]
            SINK_ERRORS.labels(self._sink_name, error.name()).inc(len(fatal))
            raise DeliveryError(
                f"sink={self._sink_name} Kafka topic {item.topic}: {len(fatal)} of "
                f"{len(outgoing)} records not delivered, first error: {error.str()} "
                f"({who(item.record, len(item.value))}); the flow stops so that recovery "
                "replays them"
            )
        own = [(item, e) for item, e in failures if e.code() in PER_RECORD_REFUSALS]
        return own, blocked, line

    def _send_each(self, refused: list[Outgoing]) -> list[tuple[Outgoing, KafkaError]]:
        still: list[tuple[Outgoing, KafkaError]] = []
        for item in refused:
            still.extend(self._send_patiently([item]))
        return still

    def _produce(
        self,
        item: Outgoing,
        on_delivery: OnDelivery,
        failures: list[tuple[Outgoing, KafkaError]],
    ) -> None:
        """``item`` again after ``produce`` raised: waits while the local queue is full; a
        record librdkafka refuses locally (message.max.bytes) is the record's own fault."""
        while True:
            try:
                self._producer.produce(*arguments(item, on_delivery))
                return
            except BufferError:
                # The local queue is full: serve delivery reports until there is room.
                self._producer.poll(0.1)
            except KafkaException as exc:
                error = exc.args[0]
                if not isinstance(error, KafkaError) or error.code() not in PER_RECORD_REFUSALS:
                    raise
                failures.append((item, error))
                return

    def close(self) -> None:
        self._producer.flush(self._flush_timeout)


def _named(
    outgoing: list[Outgoing], reported: list[tuple[Message | None, KafkaError]]
) -> list[tuple[Outgoing, KafkaError]]:
    """The records the refusals in ``reported`` are about, found by topic and value."""
    at = positions(outgoing)
    named: list[tuple[Outgoing, KafkaError]] = []
    for message, error in reported:
        same = at.get((message.topic(), message.value())) if message is not None else None
        if not same:  # no record to name: the flow stops and recovery replays the batch
            raise DeliveryError(f"a delivery report names no record sent: {error.str()}")
        named.append((outgoing[same.pop()], error))
    return named


class KafkaSink(DynamicSink[list[Record]]):
    """Produces records as JSON to one topic, keyed by stream so order per stream holds.

    Unit of parallelism: one idempotent producer per worker. Guarantee: at-least-once; a batch
    returns only after the broker acknowledged every record, or its dead letter, with
    ``acks=all``, so the recovery snapshot that follows never covers an undelivered record.
    Resumes from nothing: replays come from the sources' snapshots.
    """

    def __init__(self, config: KafkaSinkConfig, name: str = "kafka") -> None:
        self._config = config
        self._name = name

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _KafkaSinkPartition:
        return _KafkaSinkPartition(self._config, self._name)
