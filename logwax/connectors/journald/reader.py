"""``journalctl --follow --output=export`` as a child process, read without blocking the flow.

Why journalctl, and why these options (systemd 252, as in Debian 12; real journal files made by
systemd-journal-remote, the tests in ``tests/integration/test_journald_*.py``):

- ``--merge``. Since systemd 250, ``--follow`` implies ``--boot`` (the current boot only), whatever
  ``--lines`` says (systemd PR #21711): on a three-boot journal ``--follow --lines=all`` printed
  the last boot alone, and after ``--after-cursor`` into an earlier boot it printed the new boot
  minus its first entry (systemd issue #38912), so every entry of an earlier boot, and the tail
  of the boot logwax was stopped in, was lost at each reboot. ``--merge`` is the one option that
  lifts the implied ``--boot`` (and ``--follow`` works with it since PR #27696): every boot of every
  journal file of every machine id, interleaved in journald's own order. It cannot be combined
  with ``--boot``, so ``current_boot_only`` runs without it.
- ``--cursor``, not ``--after-cursor``. journalctl's ``--after-cursor`` seeks to the cursor and then
  skips one entry whether or not the cursor was found: with the cursor's file vacuumed, or a
  cursor from another journal, the first entry there is silently lost. ``--cursor`` starts *at*
  the cursor; the source drops that first entry when it is the one the cursor names, and knows
  the cursor was not found when it is not (see ``source.py`` for what happens then).
- ``--output=export``, not ``json``: journalctl renders export about four times faster (see
  ``export.py``); with JSON, journalctl's own rendering capped the reader below
  ``journalctl -o json > /dev/null`` itself (0.7-0.9x; with export 1.1-1.7x depending on the
  machine's load, ``make bench BENCH_ARGS='--only journald'``).
- journalctl rather than the sd-journal API (systemd-python read ~123k entries/s with field
  conversion, about what ``-o json`` renders, below export): it needs no native build
  (systemd-python compiles against libsystemd-dev), the host's own journalctl understands the
  host's journal format, and a corrupt file can at worst kill the child, which is restarted
  from the last cursor with backoff, never the flow.
- Known limit of the merged view: journalctl orders entries of *different* journals (seqnum ids,
  e.g. another machine's files) by wall-clock time, and while following it skips an entry that
  sorts before the last one it printed, so another machine's entry written late with an older
  timestamp is not read. One machine's entries are ordered by sequence number and never skipped.
  (``docs/bad-input.md``, journald.)
"""

from __future__ import annotations

import contextlib
import logging
import queue
import subprocess
import threading
import time
from collections import deque
from typing import IO, Any

from logwax.connectors.journald import export
from logwax.connectors.journald.config import PRIORITIES, JournaldSourceConfig
from logwax.connectors.journald.entries import to_record
from logwax.core import native
from logwax.core.metrics import SOURCE_BYTES, SOURCE_ERRORS
from logwax.core.record import Record

log = logging.getLogger(__name__)
READ_BYTES = 1 << 18
# Reads waiting for the flow; then the child blocks. A pipe read returns at most the pipe's
# 64 KiB, not READ_BYTES: about 1 MiB of output waits (as records, a few times that).
QUEUE_CHUNKS = 16


def journalctl_args(
    config: JournaldSourceConfig, cursor: str | None, from_head: bool = False
) -> list[str]:
    """journalctl's command line: start at ``cursor`` (inclusive), or at the configured start.

    ``from_head`` starts at the oldest entry whatever ``since_now`` says: the fallback when a
    saved cursor is not in the journal.
    """
    args = [config.journalctl, "--follow", "--output=export", "--no-pager"]
    if config.directory is not None:
        args.append(f"--directory={config.directory}")
    args.extend(f"--file={pattern}" for pattern in config.files)
    # --follow alone shows only the last 10 entries, even after --cursor.
    if cursor:
        args += [f"--cursor={cursor}", "--lines=all"]
    elif config.since_now and not from_head:
        args.append("--lines=0")
    else:
        args.append("--lines=all")
    args.append("--boot" if config.current_boot_only else "--merge")
    if config.min_priority is not None:
        args.append(f"--priority={PRIORITIES.index(config.min_priority)}")
    for unit in config.units:
        args.append(f"--unit={unit}")
    args.extend(f"{field}={value}" for field, value in sorted(config.matches.items()))
    return args


class JournalctlProcess:
    """One journalctl child; its entries land in a bounded queue (the child blocks when full).

    The output is read, parsed and queued a chunk at a time, not an entry at a time: a queue
    hand-over costs more than parsing a small entry.
    """

    def __init__(self, args: list[str], source: str, at_cursor: bool = False) -> None:
        self.args = args
        self._source = source
        # Set when the start cursor has nothing at or after it (see _probe), or when journalctl
        # could not parse it at all (a damaged snapshot) and exited.
        self.nothing_at_cursor = threading.Event()
        self._chunks: queue.Queue[list[Record]] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._pending: deque[Record] = deque()
        self._read_entries = 0  # written by the reading thread only
        self._taken_entries = 0  # written by take() only
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        self._done = threading.Event()
        stdout, stderr = self._proc.stdout, self._proc.stderr
        if stdout is None or stderr is None:
            raise RuntimeError("journalctl started without pipes")
        threading.Thread(target=self._pump, args=(stdout,), daemon=True).start()
        threading.Thread(target=self._log_stderr, args=(stderr,), daemon=True).start()
        if at_cursor:
            threading.Thread(target=self._probe, daemon=True).start()

    def _probe(self) -> None:
        """The same command without ``--follow``: does anything at all come from the cursor on?

        A cursor that journalctl cannot find (vacuumed, another journal) is sought by time, and
        one dated after every entry leaves the followed child silent until a new entry comes.
        Started at a cursor that exists, journalctl prints at least that entry.
        """
        args = [a for a in self.args if a != "--follow"]
        with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as probe:
            first = probe.stdout.readline() if probe.stdout is not None else b""
            if first:
                probe.kill()
            elif probe.wait() == 0:
                self.nothing_at_cursor.set()

    def _pump(self, stdout: IO[bytes]) -> None:
        try:
            self._read_all(stdout)
        except Exception:  # a bug here must restart the child, not leave the source silent
            SOURCE_ERRORS.labels(self._source, "reader_error").inc()
            log.exception("source=%s reading journalctl failed; restarting it", self._source)
            self._proc.kill()
        finally:
            self._done.set()

    def _read_all(self, stdout: IO[bytes]) -> None:
        rest = b""
        received = SOURCE_BYTES.labels(self._source)
        while chunk := stdout.read(READ_BYTES):
            received.inc(len(chunk))
            data = rest + chunk if rest else chunk
            records, used = self._parse(data)
            rest = data[used:]
            if records:
                self._read_entries += len(records)
                self._chunks.put(records)
        if rest.strip():  # the child died mid-entry: read again after the restart
            SOURCE_ERRORS.labels(self._source, "unparseable").inc()
            log.warning("source=%s journalctl output ended mid-entry", self._source)

    def _parse(self, data: bytes) -> tuple[list[Record], int]:
        """The records of the complete entries in ``data``, and the bytes they took.

        The compiled core (``core.native``) reads the plain entries; an entry it leaves (a
        length-framed or repeated field, invalid UTF-8, an unusual cursor or timestamp) is
        read here, one at a time, and the core goes on after it.
        """
        core = native.CORE
        if core is None:
            entries, used = export.parse(data)
            return self._records(entries), used
        records: list[Record] = []
        position, source = 0, self._source
        while True:
            made, position = core.journal_records(Record, data, position, source)
            records += made
            entry, after = export.parse_one(data, position)
            if entry is None:
                return records, position
            records += self._records([entry])
            position = after

    def _records(self, entries: list[dict[str, Any]]) -> list[Record]:
        """Entries → records here, not in the flow's thread: this thread would otherwise idle
        while that one waits for Kafka (which releases the GIL)."""
        records = []
        source = self._source
        for entry in entries:
            try:
                records.append(to_record(source, entry))
            except ValueError as exc:
                SOURCE_ERRORS.labels(source, "unparseable").inc()
                log.warning("source=%s skipped journalctl output: %s", source, exc)
        return records

    def _log_stderr(self, stderr: IO[bytes]) -> None:
        """journalctl's complaints (a truncated or corrupt file it skips), logged and counted."""
        for line in stderr:
            SOURCE_ERRORS.labels(self._source, "journalctl_stderr").inc()
            text = line.decode(errors="replace").rstrip()
            log.warning("source=%s journalctl: %s", self._source, text)
            if text.startswith("Failed to seek to cursor"):
                self.nothing_at_cursor.set()

    def take(self, most: int) -> list[Record]:
        """Up to ``most`` records that have arrived, without waiting."""
        pending = self._pending
        while len(pending) < most:
            try:
                pending.extend(self._chunks.get_nowait())
            except queue.Empty:
                break
        if len(pending) <= most:
            records = list(pending)
            pending.clear()
        else:
            records = [pending.popleft() for _ in range(most)]
        self._taken_entries += len(records)
        return records

    def backlog(self) -> int:
        """Entries journalctl wrote that were not taken yet."""
        return self._read_entries - self._taken_entries

    def finished(self) -> bool:
        """The child exited and everything it wrote has been taken."""
        return (
            self._done.is_set()
            and self._proc.poll() is not None
            and not self._pending
            and self._chunks.empty()
        )

    def returncode(self) -> int | None:
        return self._proc.poll()

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        # Let a reading thread blocked on a full queue see the end of the pipe and finish.
        deadline = time.monotonic() + 5
        while not self._done.is_set() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                self._chunks.get(timeout=0.05)


class Backoff:
    """Doubling delay between restarts, reset once a child has produced entries."""

    def __init__(self, maximum: float, initial: float = 0.5) -> None:
        self._initial, self._maximum = initial, maximum
        self._delay = initial
        self.not_before = 0.0

    def failed(self) -> float:
        self.not_before = time.monotonic() + self._delay
        delay, self._delay = self._delay, min(self._delay * 2, self._maximum)
        return delay

    def succeeded(self) -> None:
        self._delay = self._initial
