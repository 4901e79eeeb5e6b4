"""Elasticsearch sink: bulk ``create`` with ``_id`` = event id, so a replay is a no-op.

Every bulk item is read back: 409 means already indexed (success, never retried); 429/5xx items
and unreachable nodes are retried with capped backoff (forever by default: the flow waits instead
of losing or crashing); anything else is a rejected document (mapping error, malformed), written
to the dead-letter index with the reason and counted, and the flow goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from elastic_transport import TlsError, TransportError
from elasticsearch import ApiError, helpers

from logwax.connectors.elasticsearch import refusal, template
from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.connectors.elasticsearch.limits import document_limit
from logwax.connectors.elasticsearch.retry import Outcome, classify
from logwax.core import delivery, health, observability
from logwax.core.errors import DeliveryError
from logwax.core.metrics import (
    DEAD_LETTERED,
    OVERSIZED,
    SINK_BATCH_SECONDS,
    SINK_ERRORS,
    SINK_RECORDS,
    SINK_RETRIES,
)
from logwax.core.oversize import truncate_to_fit
from logwax.core.record import Record, clamp_ns, iso_timestamp

log = logging.getLogger(__name__)


# A record and its document as sent: JSON bytes, encoded once for both the size check and the
# request (the bulk helper passes bytes through; encoding twice was about a tenth of the index
# flow's CPU per record), or the document itself when it does not encode, for the server to
# refuse and the sink to dead-letter with the reason.
Outgoing = tuple[Record, bytes | dict[str, Any]]


def _source(record: Record) -> bytes | dict[str, Any]:
    try:
        return record.to_json_bytes()
    except ValueError:
        return record.to_document()


def _source_size(record: Record) -> int:
    """The size the limit is checked against; 0 for a record that does not encode (the bulk
    item is refused and dead-lettered with the reason)."""
    source = _source(record)
    return len(source) if type(source) is bytes else 0


def who(record: Record, size: int) -> str:
    return f"source={record.source} stream={record.stream} event_id={record.event_id} size={size}"


def document_id(event_id: str) -> str:
    """A short stable ``_id``: long ids bloat the ``_id`` field and Lucene's terms dictionary."""
    return hashlib.blake2b(event_id.encode("utf-8", "backslashreplace"), digest_size=16).hexdigest()


ITEM_FIELDS = "items.*.status,items.*.error,items.*._index"


class _ElasticsearchSinkPartition(StatelessSinkPartition[list[Record]]):
    def __init__(self, config: ElasticsearchSinkConfig, sink_name: str) -> None:
        self._config = config
        self._sink_name = sink_name
        self._client = config.client()
        self._refused: str | None = None  # the last 401/403 line, while the server refuses
        self._announcer = refusal.Announcer()
        self._template_pending = config.install_template
        self._install_template()
        self._limit, self._limit_words = document_limit(self._client, int(config.bulk_max_bytes))
        # strftime per record was an eighth of the index flow's time; names change per second
        # at most (see the config's check), so they are cached by the record's second.
        self._index_of_second = lru_cache(maxsize=4096)(self._index_name)

    def _index_name(self, second: int) -> str:
        return self._config.index_for(datetime.fromtimestamp(second, tz=UTC))

    def _index_of(self, record: Record) -> str:
        return self._index_of_second(clamp_ns(record.timestamp_ns) // 1_000_000_000)

    def _actions(self, items: list[Outgoing]) -> Iterator[dict[str, Any]]:
        for record, source in items:
            yield {
                "_op_type": "create",
                "_index": self._index_of(record),
                "_id": document_id(record.event_id),
                "_source": source,
            }

    def _fit(self, records: list[Record]) -> list[Outgoing]:
        """Records within the size limit; the others cut or dead-lettered by ``oversize``."""
        fitting: list[Outgoing] = []
        oversized: list[tuple[Record, dict[str, Any]]] = []
        for record in records:
            source = _source(record)
            size = len(source) if type(source) is bytes else 0  # as ``_source_size``
            if size <= self._limit:
                fitting.append((record, source))
                continue
            cut = None
            if self._config.oversize == "truncate":
                cut = truncate_to_fit(record, size, self._limit, _source_size)
            words = f"{who(record, size)} over {self._limit_words}"
            if cut is not None:
                OVERSIZED.labels(self._sink_name, "truncated").inc()
                log.warning(
                    "sink=%s setting=oversize:truncate %s: message cut", self._sink_name, words
                )
                fitting.append((cut, _source(cut)))
                continue
            OVERSIZED.labels(self._sink_name, "dead_lettered").inc()
            reason = {"type": "oversize", "reason": f"document of {size} bytes; {words}"}
            oversized.append((record, {"status": 413, "error": reason}))
        if oversized:
            self._dead_letter(oversized)
        return fitting

    def _install_template(self) -> None:
        """At start, or with the first batch once the server accepts the credential or is
        reachable: a refusal here must not stop the job (the bulk path waits and says why)."""
        if not self._template_pending:
            return
        try:
            template.install(self._client, self._config.index)
        except (ApiError, TransportError):
            return
        self._template_pending = False

    def write_batch(self, batches: list[list[Record]]) -> None:
        self._install_template()
        items = self._fit([record for batch in batches for record in batch])
        started = time.monotonic()
        pending, attempt, refused_attempt = items, 0, 0
        while True:
            pending = self._send(pending)
            if not pending:
                break
            if self._refused is not None:
                refused_attempt += 1
                limit = self._config.max_retries
                if limit is not None and refused_attempt > limit:
                    raise DeliveryError(f"{self._refused}; still refused after {limit} retries")
                self._wait_for_credential(self._refused, len(pending), refused_attempt)
                continue
            attempt += 1
            if self._config.max_retries is not None and attempt > self._config.max_retries:
                SINK_ERRORS.labels(self._sink_name, "retries_exhausted").inc(len(pending))
                raise DeliveryError(
                    f"sink={self._sink_name} setting=elasticsearch.max_retries: {len(pending)}"
                    f" records still refused after {self._config.max_retries} retries (first:"
                    f" {who(pending[0][0], _source_size(pending[0][0]))}); the flow stops so that"
                    " recovery replays them"
                )
            SINK_RETRIES.labels(self._sink_name).inc(len(pending))
            observability.sink_failed(self._sink_name, f"{len(pending)} records refused (429/5xx)")
            time.sleep(self._backoff(attempt))
        observability.sink_succeeded(self._sink_name)
        delivery.confirmed(batches)  # indexed, already there or dead-lettered: all delivered
        SINK_RECORDS.labels(self._sink_name).inc(len(items))
        SINK_BATCH_SECONDS.labels(self._sink_name).observe(time.monotonic() - started)

    def _wait_for_credential(self, line: str, held: int, attempt: int) -> None:
        """401/403 or a refused certificate: say why, wait (a few attempts a minute), then try
        with a fresh client, which reads the secret and CA files again."""
        wait = refusal.wait_seconds(attempt)
        SINK_ERRORS.labels(self._sink_name, "refused").inc()
        observability.sink_failed(self._sink_name, line)
        self._announcer.say(line, held, wait)
        time.sleep(wait)
        self._refused = None
        self._client.close()
        self._client = self._config.client()

    def _backoff(self, attempt: int) -> float:
        first = self._config.retry_backoff.total_seconds()
        return float(
            min(first * 2 ** (attempt - 1), self._config.retry_backoff_max.total_seconds())
        )

    def _send(self, records: list[Outgoing]) -> list[Outgoing]:
        """One bulk round; returns the records to try again.

        A connection failure retries the whole round: items that did land answer 409 next time.
        """
        try:
            with health.in_flight(f"sink {self._sink_name}", f"bulk of {len(records)} records"):
                return self._send_round(records)
        except TransportError as exc:
            SINK_ERRORS.labels(self._sink_name, type(exc).__name__).inc()
            line = refusal.explain_transport(self._config.hosts, exc)
            if isinstance(exc, TlsError) and " fix=" in line:
                self._refused = line  # the operator's to fix: waited out like a 401
                return records
            observability.sink_failed(self._sink_name, line)
            self._announcer.say(line, len(records))
            return records

    def _send_round(self, records: list[Outgoing]) -> list[Outgoing]:
        retry: list[Outgoing] = []
        rejected: list[tuple[Record, dict[str, Any]]] = []
        results = helpers.streaming_bulk(
            self._client,
            self._actions(records),
            # One request per write would grow with the batches bytewax hands over at once; a
            # request over the node's indexing-pressure limit is refused whole, every time.
            chunk_size=self._config.bulk_max_documents,
            max_chunk_bytes=int(self._config.bulk_max_bytes),
            raise_on_error=False,
            raise_on_exception=False,
            max_retries=0,
            # Only what each item is judged by: the full item (ids, versions, shard counts) is
            # about 200 bytes the server writes and the client parses per document, and
            # leaving it out was 5-8% more documents per second.
            filter_path=ITEM_FIELDS,
        )
        for outgoing, (_ok, result) in zip(records, results, strict=True):
            item = result["create"]
            outcome = classify(int(item.get("status", 500)))
            if outcome is Outcome.RETRY:
                retry.append(outgoing)
            elif outcome is Outcome.REFUSED:
                retry.append(outgoing)
                self._refused = refusal.explain(
                    self._config.hosts, int(item["status"]), item.get("error"), item.get("_index")
                )
            elif outcome is Outcome.REJECTED:
                rejected.append((outgoing[0], item))
        if rejected:
            self._dead_letter(rejected)
        return retry

    def _dead_letter(self, rejected: list[tuple[Record, dict[str, Any]]]) -> None:
        """Rejected documents never succeed on retry: keep them, with the reason, elsewhere."""
        index = self._config.dead_letter_index
        first = rejected[0][1].get("error")
        if index is None:
            SINK_ERRORS.labels(self._sink_name, "rejected").inc(len(rejected))
            record = rejected[0][0]
            raise DeliveryError(
                f"sink={self._sink_name} setting=elasticsearch.dead_letter_index is not set and "
                f"Elasticsearch rejected {len(rejected)} documents; first: "
                f"{who(record, _source_size(record))} reason: {first}"
            )
        actions = [
            {
                "_op_type": "create",
                "_index": index,
                "_id": document_id(record.event_id),
                "_source": self._dead_letter_source(record, item),
            }
            for record, item in rejected
        ]
        for ok, result in helpers.streaming_bulk(
            self._client, actions, raise_on_error=False, raise_on_exception=False, max_retries=3
        ):
            status = int(result["create"].get("status", 500))
            if not ok and status != 409:
                raise DeliveryError(
                    f"sink={self._sink_name} setting=elasticsearch.dead_letter_index {index}"
                    f" refused a dead letter: {result}"
                )
        for _record, item in rejected:
            reason = str((item.get("error") or {}).get("type", "unknown"))
            DEAD_LETTERED.labels(self._sink_name, reason).inc()
        log.warning(
            "sink=%s setting=dead_letter_index %d documents rejected, written to %s; first: %s"
            " reason: %s",
            self._sink_name,
            len(rejected),
            index,
            who(rejected[0][0], _source_size(rejected[0][0])),
            first,
        )

    def _dead_letter_source(self, record: Record, item: dict[str, Any]) -> dict[str, Any]:
        """The dead letter: reason, where the record came from, its size, the record as text
        (cut to fit the limit, flagged ``original_truncated``). A record read from Kafka keeps
        its topic, partition and offset as a field of their own: the cut original, message
        first, would lose them exactly when the record is large."""
        try:
            original = record.to_json_bytes().decode()
        except ValueError:
            original = record.message
        room = self._limit - 4096
        position = record.fields.get("kafka")
        return {
            **({"kafka": position} if isinstance(position, dict) else {}),
            "@timestamp": iso_timestamp(record.timestamp_ns),
            "event": {"id": record.event_id},
            "logwax": {"source": record.source, "stream": record.stream},
            "reason": json.dumps(item.get("error"), default=str),
            "status": item.get("status"),
            "size": len(original.encode("utf-8", "surrogatepass")),
            "target_index": self._index_of(record),
            "original": original[: max(room, 0)],
            "original_truncated": len(original) > room,
        }

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
