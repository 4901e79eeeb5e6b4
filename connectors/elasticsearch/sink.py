"""Elasticsearch sink: bulk ``create`` with ``_id`` = event id, so a replay is a no-op.

Every bulk item is read back: 409 means already indexed (success, never retried), 429/5xx items
are retried with backoff, anything else is a rejected document and raises for now, stopping the
flow before the checkpoint moves (a dead-letter destination replaces that with the exactly-once
pipeline).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from elastic_transport import TransportError
from elasticsearch import helpers

from connectors.elasticsearch.config import ElasticsearchSinkConfig
from connectors.elasticsearch.retry import Outcome, classify
from logwax.errors import DeliveryError
from logwax.metrics import SINK_BATCH_SECONDS, SINK_ERRORS, SINK_RECORDS, SINK_RETRIES
from logwax.record import Record


def document_id(event_id: str) -> str:
    """A short stable ``_id``: long ids bloat the ``_id`` field and Lucene's terms dictionary."""
    return hashlib.blake2b(event_id.encode(), digest_size=16).hexdigest()


class _ElasticsearchSinkPartition(StatelessSinkPartition[list[Record]]):
    def __init__(self, config: ElasticsearchSinkConfig, sink_name: str) -> None:
        self._config = config
        self._sink_name = sink_name
        self._client = config.client()

    def _actions(self, records: list[Record]) -> Iterator[dict[str, Any]]:
        for record in records:
            yield {
                "_op_type": "create",
                "_index": self._config.index_for(record.timestamp()),
                "_id": document_id(record.event_id),
                "_source": record.to_document(),
            }

    def write_batch(self, batches: list[list[Record]]) -> None:
        items = [record for batch in batches for record in batch]
        started = time.monotonic()
        pending = items
        for attempt in range(self._config.max_retries + 1):
            if attempt:
                SINK_RETRIES.labels(self._sink_name).inc(len(pending))
                time.sleep(self._config.retry_backoff.total_seconds() * 2 ** (attempt - 1))
            pending = self._send(pending)
            if not pending:
                SINK_RECORDS.labels(self._sink_name).inc(len(items))
                SINK_BATCH_SECONDS.labels(self._sink_name).observe(time.monotonic() - started)
                return
        SINK_ERRORS.labels(self._sink_name, "retries_exhausted").inc(len(pending))
        raise DeliveryError(
            f"Elasticsearch: {len(pending)} records still refused after"
            f" {self._config.max_retries} retries; the flow stops so that recovery replays them"
        )

    def _send(self, records: list[Record]) -> list[Record]:
        """One bulk round; returns the records to try again.

        A connection failure retries the whole round: items that did land answer 409 next time.
        """
        try:
            return self._send_round(records)
        except TransportError as exc:
            SINK_ERRORS.labels(self._sink_name, type(exc).__name__).inc()
            return records

    def _send_round(self, records: list[Record]) -> list[Record]:
        retry: list[Record] = []
        results = helpers.streaming_bulk(
            self._client,
            self._actions(records),
            chunk_size=len(records) or 1,
            raise_on_error=False,
            raise_on_exception=False,
            max_retries=0,
        )
        for record, (_ok, result) in zip(records, results, strict=True):
            item = result["create"]
            outcome = classify(int(item.get("status", 500)))
            if outcome is Outcome.RETRY:
                retry.append(record)
            elif outcome is Outcome.REJECTED:
                SINK_ERRORS.labels(self._sink_name, "rejected").inc()
                raise DeliveryError(
                    f"Elasticsearch rejected event {record.event_id}: {item.get('error')}"
                )
        return retry

    def close(self) -> None:
        self._client.close()


class ElasticsearchSink(DynamicSink[list[Record]]):
    """Indexes records into dated indices chosen by each record's own timestamp.

    Unit of parallelism: one client per worker. Guarantee: exactly-once in the index (a replayed
    record hits ``create`` on an existing ``_id`` and is counted as delivered). Resumes from
    nothing: replays come from the sources' snapshots.
    """

    def __init__(self, config: ElasticsearchSinkConfig, name: str = "elasticsearch") -> None:
        self._config = config
        self._name = name

    def build(
        self, step_id: str, worker_index: int, worker_count: int
    ) -> _ElasticsearchSinkPartition:
        return _ElasticsearchSinkPartition(self._config, self._name)
