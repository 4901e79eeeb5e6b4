"""bytewax source over the systemd journal, resumable from the journal cursor."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource

from logwax.connectors.base import SourcePartition
from logwax.connectors.journald.config import JournaldSourceConfig
from logwax.connectors.journald.reader import Backoff, JournalctlProcess, journalctl_args
from logwax.core import health
from logwax.core.metrics import SOURCE_ERRORS, SOURCE_LAG, SOURCE_RECORDS, SOURCE_RETRIES
from logwax.core.ratelimit import TokenBucket
from logwax.core.record import Record

log = logging.getLogger(__name__)

# Resume state: the cursor of the last entry handed on (None before the first one).
JournalCursor = str | None

# Waiting the whole poll_interval each time the source overtook journalctl cost a third of the
# throughput while catching up (measured with bench --only journald). A read of at least
# BUSY_READ entries means journalctl is pouring out a backlog: for BUSY_SECONDS after one, an
# empty read is retried after BUSY_POLL. A live tail of a few entries at a time keeps polling
# every poll_interval, so an idle node does not wake hundreds of times a second.
BUSY_READ = 100
BUSY_SECONDS = 1.0
BUSY_POLL = timedelta(milliseconds=2)


class _JournaldPartition(SourcePartition[JournalCursor]):
    def __init__(self, config: JournaldSourceConfig, cursor: JournalCursor) -> None:
        self._config = config
        self._name = config.name
        self._cursor = cursor
        self._backoff = Backoff(config.restart_backoff_max.total_seconds())
        self._child: JournalctlProcess | None = None
        self._awake: datetime | None = None
        self._bucket = TokenBucket(config.rate_limit, config.name)
        # The cursor journalctl was started at: its entry comes first and was handed on already.
        self._expect: str | None = None
        self._busy_until = 0.0
        self._start_child()

    def _start_child(self, from_head: bool = False) -> None:
        args = journalctl_args(self._config, self._cursor, from_head)
        self._expect = self._cursor
        try:
            self._child = JournalctlProcess(args, self._name, at_cursor=self._cursor is not None)
        except OSError as exc:  # missing or not executable: retried, never the flow's end
            delay = self._backoff.failed()
            SOURCE_RETRIES.labels(self._name, "spawn").inc()
            health.source_failing(self._name, f"spawn {args[0]}: {exc}")
            log.warning(
                "source=%s journalctl spawn failed: %s; retry in %.1fs", self._name, exc, delay
            )
            return
        log.info(
            "source=%s journalctl started at_cursor=%s from_head=%s",
            self._name,
            bool(self._cursor),
            from_head,
        )

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
        if self._child is not child:  # the cursor was not found: restarted from the head
            self._awake = None
            return records
        if not records and child.finished():
            if self._expect is not None and child.nothing_at_cursor.is_set():
                self._fall_back_to_head()  # journalctl refused the cursor itself
                return []
            self._restart_later(child)
        now = time.monotonic()
        if records:
            self._backoff.succeeded()
            health.source_ok(self._name)
            SOURCE_RECORDS.labels(self._name).inc(len(records))
            self._awake = None
            if len(records) >= BUSY_READ:
                self._busy_until = now + BUSY_SECONDS
        elif now < self._busy_until:  # catching up: journalctl's next chunk is moments away
            self._awake = datetime.now(UTC) + BUSY_POLL
        else:
            self._awake = datetime.now(UTC) + self._config.poll_interval
        SOURCE_LAG.labels(self._name).set(child.backlog())
        return records

    def _drain(self, child: JournalctlProcess, budget: int) -> list[Record]:
        records = child.take(budget)
        if self._expect is not None:
            if not records:
                if child.nothing_at_cursor.is_set():
                    self._fall_back_to_head()
                return []
            if not self._cursor_found(records[0]):
                return []
            self._expect = None
            records = records[1:]  # the entry at the cursor: handed on before
        if records:
            self._cursor = str(records[-1].fields["journald_cursor"])
        return records

    def _cursor_found(self, first: Record) -> bool:
        """Whether journalctl's first entry is the one the saved cursor names.

        If not, the cursor is not among the entries this source reads: its journal file was
        vacuumed, it came from another machine's journal, or (with ``current_boot_only``) it is
        in an earlier boot. journalctl then starts at whatever entry its seek found nearest,
        which can be anywhere; the documented fallback is the oldest entry the source reads,
        so nothing still in the journal is lost (entries shipped before may come again, with
        their own event ids).
        """
        if first.fields["journald_cursor"] == self._expect:
            return True
        self._fall_back_to_head()
        return False

    def _fall_back_to_head(self) -> None:
        SOURCE_ERRORS.labels(self._name, "cursor_not_found").inc()
        log.warning(
            "source=%s saved cursor not found in the journal (vacuumed, another journal, or an "
            "earlier boot); reading from the oldest entry instead cursor=%s",
            self._name,
            self._expect,
        )
        if self._child is not None:
            self._child.stop()
        self._cursor = None
        self._start_child(from_head=True)

    def _restart_later(self, child: JournalctlProcess) -> None:
        delay = self._backoff.failed()
        SOURCE_ERRORS.labels(self._name, "journalctl_exit").inc()
        health.source_failing(self._name, f"journalctl exited code={child.returncode()}")
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
    resumed flow restarts journalctl at it, so the same entries come again with the same event
    ids (``<seqnum id>:<seqnum>`` from the cursor). Resumes from that cursor; one that is not in
    the journal any more falls back to its oldest entry (logged, counted as
    ``cursor_not_found``). Every boot the journal holds is read unless ``current_boot_only``.
    """

    def __init__(self, config: JournaldSourceConfig) -> None:
        self._config = config

    def list_parts(self) -> list[str]:
        return [self._config.name]

    def build_part(
        self, step_id: str, for_part: str, resume_state: JournalCursor
    ) -> _JournaldPartition:
        return _JournaldPartition(self._config, resume_state)
