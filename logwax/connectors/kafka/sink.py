"""Kafka sink that confirms every delivery before bytewax may move the input checkpoint.

bytewax's stock ``KafkaSink`` flushes without a delivery callback, so a failed delivery is dropped
silently. Here every record's delivery report is checked and a failure raises, which stops the
flow; on restart bytewax rewinds the sources to the last snapshot and the records are sent again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaError, Message, Producer

from logwax.connectors.kafka import clients
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.core.errors import DeliveryError
from logwax.core.metrics import SINK_BATCH_SECONDS, SINK_ERRORS, SINK_RECORDS
from logwax.core.record import Record, metadata

log = logging.getLogger(__name__)


def record_key(record: Record, key: str) -> bytes | None:
    if key == "stream":
        return record.stream.encode()
    if key == "event_id":
        return record.event_id.encode()
    return None


class _KafkaSinkPartition(StatelessSinkPartition[list[Record]]):
    def __init__(self, config: KafkaSinkConfig, sink_name: str) -> None:
        self._config = config
        self._sink_name = sink_name
        self._producer = Producer({**clients.producer(config), "logger": log})
        self._flush_timeout = config.delivery_timeout.total_seconds() + 10

    def write_batch(self, batches: list[list[Record]]) -> None:
        items = [record for batch in batches for record in batch]
        failures: list[KafkaError] = []

        def on_delivery(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(error)

        started = time.monotonic()
        topic, key, hint = self._config.topic, self._config.key, self._config.topic_from_metadata
        for record in items:
            self._produce(
                (hint and metadata(record, hint)) or topic,
                value=record.to_json_bytes(),
                key=record_key(record, key),
                headers=[
                    ("event_id", record.event_id.encode()),
                    ("source", record.source.encode()),
                ],
                on_delivery=on_delivery,
            )
        if self._producer.flush(self._flush_timeout) > 0:
            SINK_ERRORS.labels(self._sink_name, "flush_timeout").inc()
            raise DeliveryError(
                f"Kafka topic {topic}: deliveries unconfirmed after {self._flush_timeout:.0f}s;"
                " the flow stops so that recovery replays them"
            )
        if failures:
            SINK_ERRORS.labels(self._sink_name, failures[0].name()).inc(len(failures))
            raise DeliveryError(
                f"Kafka topic {topic}: {len(failures)} of {len(items)} records not delivered,"
                f" first error: {failures[0].str()}; the flow stops so that recovery replays them"
            )
        SINK_RECORDS.labels(self._sink_name).inc(len(items))
        SINK_BATCH_SECONDS.labels(self._sink_name).observe(time.monotonic() - started)

    def _produce(self, topic: str, **kwargs: Any) -> None:
        while True:
            try:
                self._producer.produce(topic, **kwargs)
                return
            except BufferError:
                # The local queue is full: serve delivery reports until there is room.
                self._producer.poll(0.1)

    def close(self) -> None:
        self._producer.flush(self._flush_timeout)


class KafkaSink(DynamicSink[list[Record]]):
    """Produces records as JSON to one topic, keyed by stream so order per stream holds.

    Unit of parallelism: one idempotent producer per worker. Guarantee: at-least-once; a batch
    returns only after the broker acknowledged every record with ``acks=all``, so the recovery
    snapshot that follows never covers an undelivered record. Resumes from nothing: replays come
    from the sources' snapshots.
    """

    def __init__(self, config: KafkaSinkConfig, name: str = "kafka") -> None:
        self._config = config
        self._name = name

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _KafkaSinkPartition:
        return _KafkaSinkPartition(self._config, self._name)
