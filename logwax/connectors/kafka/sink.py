"""Kafka sink that confirms every delivery before bytewax may move the input checkpoint.

bytewax's stock ``KafkaSink`` flushes without a delivery callback, so a failed delivery is dropped
silently. Here every record's delivery report is checked. A record the broker refuses on its own
account (too large, invalid) goes to the dead-letter topic with the reason, and the rest of the
batch flows on; any other failure raises, which stops the flow, and on restart bytewax rewinds
the sources to the last snapshot and the records are sent again. The batch returns only when
each record, or its dead letter, is acknowledged: a position never passes a record that is in
neither place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from logwax.connectors.kafka import clients
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.limits import SizeLimits
from logwax.connectors.kafka.outgoing import PER_RECORD_REFUSALS, Outgoing, Shaper, record_key, who
from logwax.core.errors import DeliveryError
from logwax.core.metrics import SINK_BATCH_SECONDS, SINK_ERRORS, SINK_RECORDS
from logwax.core.record import Record, metadata

log = logging.getLogger(__name__)
OnDelivery = Callable[[KafkaError | None, Message | None], None]

__all__ = ["KafkaSink", "record_key"]


def sink_limits(config: KafkaSinkConfig) -> SizeLimits:
    """The limits of the sink's topic and dead-letter topic, read from the broker at start."""
    topics = [config.topic] + ([config.dead_letter_topic] if config.dead_letter_topic else [])
    client = clients.connection(config.bootstrap_servers, config.security)
    return SizeLimits(client, config.producer_options, topics)


def producer_settings(config: KafkaSinkConfig, limits: SizeLimits) -> dict[str, object]:
    configured = config.producer_options.get("batch.size")
    return {
        **clients.producer(config),
        "batch.size": limits.batch_size(int(configured) if configured is not None else None),
    }


class _KafkaSinkPartition(StatelessSinkPartition[list[Record]]):
    def __init__(self, config: KafkaSinkConfig, sink_name: str) -> None:
        self._config = config
        self._sink_name = sink_name
        limits = sink_limits(config)
        self._shaper = Shaper(config, limits, sink_name)
        self._producer = Producer(producer_settings(config, limits))
        self._flush_timeout = config.delivery_timeout.total_seconds() + 10

    def write_batch(self, batches: list[list[Record]]) -> None:
        started = time.monotonic()
        topic, hint = self._config.topic, self._config.topic_from_metadata
        outgoing = [
            self._shaper.shape(r, (hint and metadata(r, hint)) or topic)
            for batch in batches
            for r in batch
        ]
        refused = self._send(outgoing)
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
        delivered = len(outgoing) - len(refused) - sum(1 for i in outgoing if i.reason)
        SINK_RECORDS.labels(self._sink_name).inc(delivered)
        SINK_BATCH_SECONDS.labels(self._sink_name).observe(time.monotonic() - started)

    def _send(self, outgoing: list[Outgoing]) -> list[tuple[Outgoing, KafkaError]]:
        """Produce and confirm; returns the records refused on their own account."""
        failures: list[tuple[Outgoing, KafkaError]] = []
        for item in outgoing:

            def on_delivery(
                error: KafkaError | None, _m: Message | None, item: Outgoing = item
            ) -> None:
                if error is not None:
                    failures.append((item, error))

            self._produce(item, on_delivery)
        if self._producer.flush(self._flush_timeout) > 0:
            SINK_ERRORS.labels(self._sink_name, "flush_timeout").inc()
            raise DeliveryError(
                f"sink={self._sink_name} Kafka topic {self._config.topic}: deliveries "
                f"unconfirmed after {self._flush_timeout:.0f}s (setting kafka.delivery_timeout);"
                " the flow stops so that recovery replays them"
            )
        fatal = [(item, e) for item, e in failures if e.code() not in PER_RECORD_REFUSALS]
        if fatal:
            item, error = fatal[0]
            SINK_ERRORS.labels(self._sink_name, error.name()).inc(len(fatal))
            raise DeliveryError(
                f"sink={self._sink_name} Kafka topic {item.topic}: {len(fatal)} of "
                f"{len(outgoing)} records not delivered, first error: {error.str()} "
                f"({who(item.record, len(item.value))}); the flow stops so that recovery "
                "replays them"
            )
        return failures

    def _send_each(self, refused: list[Outgoing]) -> list[tuple[Outgoing, KafkaError]]:
        still: list[tuple[Outgoing, KafkaError]] = []
        for item in refused:
            still.extend(self._send([item]))
        return still

    def _produce(self, item: Outgoing, on_delivery: OnDelivery) -> None:
        while True:
            try:
                self._producer.produce(
                    item.topic,
                    value=item.value,
                    key=item.key,
                    headers=item.headers,
                    on_delivery=on_delivery,
                )
                return
            except BufferError:
                # The local queue is full: serve delivery reports until there is room.
                self._producer.poll(0.1)
            except KafkaException as exc:
                # librdkafka refused it locally (message.max.bytes): the record's own fault.
                error = exc.args[0]
                if not isinstance(error, KafkaError) or error.code() not in PER_RECORD_REFUSALS:
                    raise
                on_delivery(error, None)
                return

    def close(self) -> None:
        self._producer.flush(self._flush_timeout)


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
