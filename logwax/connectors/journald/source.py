"""bytewax source over the systemd journal, resumable from the journal cursor."""

from __future__ import annotations

import logging
import queue
import time
from datetime import UTC, datetime

from bytewax.inputs import FixedPartitionedSource

from logwax.connectors.base import SourcePartition
from logwax.connectors.journald.config import JournaldSourceConfig
from logwax.connectors.journald.entries import to_record
from logwax.connectors.journald.reader import Backoff, JournalctlProcess, journalctl_args
from logwax.core.metrics import SOURCE_BYTES, SOURCE_ERRORS, SOURCE_LAG, SOURCE_RECORDS
from logwax.core.ratelimit import TokenBucket
from logwax.core.record import Record

log = logging.getLogger(__name__)

# Resume state: the cursor of the last entry handed on (None before the first one).
JournalCursor = str | None


class _JournaldPartition(SourcePartition[JournalCursor]):
    def __init__(self, config: JournaldSourceConfig, cursor: JournalCursor) -> None:
        self._config = config
        self._name = config.name
        self._cursor = cursor
        self._backoff = Backoff(config.restart_backoff_max.total_seconds())
        self._child: JournalctlProcess | None = None
        self._awake: datetime | None = None
        self._bucket = TokenBucket(config.rate_limit, config.name)
        self._start_child()

    def _start_child(self) -> None:
        args = journalctl_args(self._config, self._cursor)
        self._child = JournalctlProcess(args)
        log.info("source=%s journalctl started after_cursor=%s", self._name, bool(self._cursor))

    def read(self) -> list[Record]:
        child = self._child
        if child is None:
            if time.monotonic() >= self._backoff.not_before:
                self._start_child()
            self._awake = datetime.now(UTC) + self._config.poll_interval
            return []
        budget = self._bucket.grant(self._config.batch_entries)
        if budget == 0:
            self._awake = self._bucket.next_token()
            return []
        records = self._drain(child, budget)
        if not records and child.finished():
            self._restart_later(child)
        if records:
            self._backoff.succeeded()
            SOURCE_RECORDS.labels(self._name).inc(len(records))
            self._awake = None
        else:
            self._awake = datetime.now(UTC) + self._config.poll_interval
        SOURCE_LAG.labels(self._name).set(child.lines.qsize())
        return records

    def _drain(self, child: JournalctlProcess, budget: int) -> list[Record]:
        records: list[Record] = []
        received = 0
        for _ in range(budget):
            try:
                line = child.lines.get_nowait()
            except queue.Empty:
                break
            received += len(line)
            try:
                record = to_record(self._name, line)
            except ValueError as exc:
                SOURCE_ERRORS.labels(self._name, "unparseable").inc()
                log.warning("source=%s skipped journalctl output line: %s", self._name, exc)
                continue
            records.append(record)
            self._cursor = str(record.fields["journald_cursor"])
        if received:
            SOURCE_BYTES.labels(self._name).inc(received)
        return records

    def _restart_later(self, child: JournalctlProcess) -> None:
        delay = self._backoff.failed()
        SOURCE_ERRORS.labels(self._name, "journalctl_exit").inc()
        log.warning(
            "source=%s journalctl exited code=%s; restarting in %.1fs from the last cursor",
            self._name,
            child.returncode(),
            delay,
        )
        child.stop()
        self._child = None

    def position(self) -> JournalCursor:
        return self._cursor

    def close(self) -> None:
        if self._child is not None:
            self._child.stop()


class JournaldSource(FixedPartitionedSource[Record, JournalCursor]):
    """Follows the systemd journal (the host's or a given directory) through journalctl.

    Unit of parallelism: one partition per configured source (one journal per node).
    Guarantee: at-least-once; the snapshot is the cursor of the last entry handed on, and a
    resumed flow restarts journalctl ``--after-cursor`` it, so the same entries come again with
    the same event ids (``<seqnum id>:<seqnum>`` from the cursor). Resumes from that cursor.
    """

    def __init__(self, config: JournaldSourceConfig) -> None:
        self._config = config

    def list_parts(self) -> list[str]:
        return [self._config.name]

    def build_part(
        self, step_id: str, for_part: str, resume_state: JournalCursor
    ) -> _JournaldPartition:
        return _JournaldPartition(self._config, resume_state)
