"""bytewax source that tails the files matched by globs, resumable from file key → offset."""

from __future__ import annotations

import fnmatch
import glob
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bytewax.inputs import FixedPartitionedSource

from logwax.connectors.base import SourcePartition
from logwax.connectors.files.assemble import assembler_for
from logwax.connectors.files.compressed import (
    MAX_OPEN_ARCHIVES,
    decompress_into,
    decompressed_size,
    is_gzip,
)
from logwax.connectors.files.config import FilesSourceConfig
from logwax.connectors.files.formats import PARSERS, Entry
from logwax.connectors.files.identity import (
    CHECK_BYTES,
    FileState,
    Seen,
    check_at,
    check_path,
    identify,
    named_by_content,
    quick_key,
)
from logwax.connectors.files.kubernetes_paths import kubernetes_fields, recent_rotations
from logwax.connectors.files.open_file import OpenFile
from logwax.connectors.files.progress import Backfill
from logwax.connectors.files.records import build_records, plain_builder
from logwax.connectors.files.refusals import Refusals
from logwax.connectors.files.registry import FileRegistry, another_file
from logwax.connectors.files.rotated import rotated_siblings
from logwax.connectors.files.tail import Line, TailedFile
from logwax.connectors.files.waiting import Waiting
from logwax.connectors.k8s_metadata import Enricher
from logwax.core.metrics import SOURCE_BYTES, SOURCE_ERRORS, SOURCE_LAG, SOURCE_OPEN, SOURCE_RECORDS
from logwax.core.ratelimit import TokenBucket
from logwax.core.record import Record

log = logging.getLogger(__name__)

# Resume state: per file key (see ``identity``), a ``FileState`` as a plain tuple. Snapshots
# written before identities existed map fingerprint → (offset, generation, path); both resume.
FilesState = dict[str, tuple[Any, ...]]


class _FilesPartition(SourcePartition[FilesState]):
    def __init__(self, config: FilesSourceConfig, resume: FilesState | None) -> None:
        self._config = config
        self._name = config.name
        self._parse = PARSERS[config.format]
        # Raw lines with no multiline joining nor metadata may take the compiled core.
        self._plain = (
            config.format == "raw"
            and config.multiline is None
            and config.kubernetes_metadata is None
        )
        self._files = FileRegistry(config.file_identity, resume)
        self._drained_orphans: set[str] = set()
        self._backfill = Backfill(config.name)
        self._readers: dict[str, OpenFile] = {}
        self._first_scan = resume is None
        self._next_scan = 0.0
        self._rescan_now = False
        self._waiting = Waiting()
        self._awake: datetime | None = None
        self._bucket = TokenBucket(config.rate_limit, config.name)
        metadata = config.kubernetes_metadata
        self._kube = Enricher.start(metadata, config.name) if metadata is not None else None
        self._refused = Refusals(config.name)

    # -- discovery -------------------------------------------------------------------------
    def _matches(self) -> list[Path]:
        found: set[str] = set()
        for pattern in self._config.include:
            found.update(glob.glob(pattern, recursive=True))
        excluded = self._config.exclude
        paths = sorted(Path(p) for p in found if not any(fnmatch.fnmatch(p, x) for x in excluded))
        return self._refused.regular_only(paths, self._config.include)

    def _scan(self, now: float) -> None:
        """Open new or grown files, decided by the identity rules (see ``registry``)."""
        identity = self._config.file_identity
        matched: set[str] = set()
        fresh: list[Seen] = []
        self._waiting.clear()
        for path in self._matches():
            quick = quick_key(identity, path)
            if quick is not None and quick in self._readers:
                matched.add(quick)
                self._files.seen[quick] = now
                self._readers[quick].tailed.path = path
                continue
            seen = self._identify(path)
            if seen is None:
                self._waiting.add(path)  # empty, or no complete first line yet
                continue
            if seen.key in matched:  # a hard link; or, by fingerprint alone, a same-head file
                if identity == "fingerprint":
                    self._refused.same_head(path)
                continue
            matched.add(seen.key)
            self._files.seen[seen.key] = now
            reader = self._readers.get(seen.key)
            if reader is not None:
                reader.tailed.path = path
                continue
            before = self._files.state.get(seen.key)
            entry = self._files.known(seen)
            if entry is None:
                fresh.append(seen)
            else:
                self._maybe_open(seen.key, seen.path, entry, now)
                if before is not None and another_file(before, entry):
                    self._read_rotated_unseen(seen.path, now)  # a new file at a reused inode
        fresh = self._not_while_truncating(fresh)
        adopted = self._files.adopt(fresh, matched, set(self._readers))
        for seen in fresh:
            entry = adopted.get(seen.key) or self._new_entry(seen)
            self._maybe_open(seen.key, seen.path, entry, now)
            if seen.key not in adopted:
                self._read_rotated_unseen(seen.path, now)
        self._follow_rotated(matched, now)
        self._forget_old(now)
        if self._first_scan:
            self._backfill.start(self._backlog(), now)
        self._first_scan = False
        self._next_scan = (
            0.0 if self._rescan_now else now + self._config.scan_interval.total_seconds()
        )
        self._rescan_now = False
        SOURCE_OPEN.labels(self._name).set(len(self._readers))
        SOURCE_LAG.labels(self._name).set(self._backlog())

    def _not_while_truncating(self, fresh: list[Seen]) -> list[Seen]:
        """Hold back a new file whose head is that of an open file just truncated: it is likely
        that file's copy (copytruncate), and can only be told so once the truncation has been
        handled (the next poll). Rescans at once instead of after ``scan_interval``."""
        if not fresh:
            return fresh
        head = self._config.fingerprint_bytes
        truncated = {
            r.entry.fingerprint for r in self._readers.values() if r.tailed.was_truncated(head)
        }
        kept = [s for s in fresh if s.fingerprint not in truncated]
        if len(kept) < len(fresh):
            self._rescan_now = True
        return kept

    def _identify(self, path: Path) -> Seen | None:
        config = self._config
        try:
            return identify(
                config.file_identity,
                path,
                config.fingerprint_bytes,
                config.partial_timeout.total_seconds(),
            )
        except OSError as exc:
            self._refused.cannot_open(path, exc)
            return None

    def _new_entry(self, seen: Seen) -> FileState:
        at_end = self._first_scan and self._config.read_from == "end"
        offset = seen.size if at_end else 0
        check = (check_path(seen.path, offset) or "") if offset else ""
        generation = self._files.new_generation(seen.key)  # > 0 if a forgotten file had it
        if named_by_content(seen.stream):
            generation = 0  # its ids do not depend on the inode it got
        return FileState(
            offset, generation, str(seen.path), seen.fingerprint, seen.stream, seen.inode, check
        )

    def _read_rotated_unseen(self, live: Path, now: float) -> None:
        """A new kubelet log file (a new key, or a new generation where the freed inode of a
        deleted one was reused): the kubelet rotated. Files it rotated that this source never
        knew (rotated while it was down, or before it first saw the container) are read as new
        files; ones it knows, by key or head, are finished by ``_follow_rotated`` instead.

        A rotated file can sit at a known key with other content: the kubelet gzipped a known
        file (a new inode), deleted the plain one, and the next live file got its inode. That
        file is another, read whole; the known entry is retired first, so ``_follow_rotated``
        finishes it from its archive rather than taking this file for it and dropping both."""
        if self._first_scan and self._config.read_from == "end":
            return
        within = self._config.forget_after.total_seconds()
        rotated = [s for s in map(self._identify, recent_rotations(live, within)) if s]
        for seen in rotated:
            before = self._files.state.get(seen.key)
            if before is None or seen.key in self._readers:
                continue
            entry = self._files.known(seen)  # retires the known file's entry if this is another
            if entry is not None and another_file(before, entry):
                self._open_unseen(seen, entry, now, "at the reused inode of a known file")
        known = {entry.fingerprint for entry in self._files.state.values()}
        for seen in rotated:
            if seen.fingerprint in known or seen.key in self._files.state:
                continue
            known.add(seen.fingerprint)
            self._open_unseen(seen, self._new_entry(seen), now, "")

    def _open_unseen(self, seen: Seen, entry: FileState, now: float, why: str) -> None:
        self._files.seen[seen.key] = now
        where = f" {why}" if why else ""
        log.info("source=%s path=%s rotated before it was seen%s", self._name, seen.path, where)
        self._maybe_open(seen.key, seen.path, entry, now)

    def _follow_rotated(self, matched: set[str], now: float) -> None:
        """Finish files renamed out of the globs while closed: their unread lines are not lost.

        The file's own last path comes first: once found under a rotated name, that is where
        it is looked for again if it could not be opened at once."""
        for key, entry in list(self._files.state.items()):
            if key in matched or key in self._readers or key in self._drained_orphans:
                continue
            found = None
            for path in [Path(entry.path), *rotated_siblings(entry.path)]:
                seen = self._identify(path)
                if seen is not None and self._files.follows(key, entry, seen):
                    found = seen
                    break
            if found is None:
                self._drained_orphans.add(key)
                continue
            self._files.seen[key] = now
            moved = entry._replace(path=str(found.path), inode=found.inode)
            if not self._maybe_open(key, found.path, moved, now) and found.size <= entry.offset:
                # Read to its end. One not opened yet (max_open_files, permissions) is
                # tried again at the next scan.
                self._drained_orphans.add(key)

    def _maybe_open(self, key: str, path: Path, entry: FileState, now: float) -> bool:
        archive = is_gzip(path)
        try:
            size = decompressed_size(path) if archive else path.stat().st_size
        except OSError:
            return False
        self._files.state[key] = entry
        if size <= entry.offset:
            if not archive:  # an archive never grows
                self._waiting.add(path, size)
            return False  # nothing new; stays closed until it grows
        if archive and self._open_archives() >= MAX_OPEN_ARCHIVES:
            return False  # tried again at the next scan
        if len(self._readers) >= self._config.max_open_files and not self._make_room():
            SOURCE_ERRORS.labels(self._name, "max_open_files").inc()
            return False
        try:
            tailed = self._open_tailed(path, entry)
        except OSError as exc:
            self._refused.cannot_open(path, exc)
            return False
        self._refused.opened(path)
        self._readers[key] = OpenFile(
            key, tailed, entry, assembler_for(self._config), now, kubernetes_fields(path) or {}
        )
        self._drained_orphans.discard(key)
        log.info(
            "source=%s path=%s stream=%s offset=%d generation=%d opened",
            self._name,
            path,
            entry.stream,
            entry.offset,
            entry.generation,
        )
        return True

    def _open_archives(self) -> int:
        return sum(1 for reader in self._readers.values() if is_gzip(reader.tailed.path))

    def _open_tailed(self, path: Path, entry: FileState) -> TailedFile:
        """The plain file, or the decompressed copy of an archive: read to its end and then
        closed as gone, since the copy is not at ``path`` (see ``compressed``)."""
        most = int(self._config.max_line_bytes)
        if not is_gzip(path):
            return TailedFile.open(entry.fingerprint, path, entry.offset, most)
        keep_from = max(0, entry.offset - CHECK_BYTES)
        fd = decompress_into(path, keep_from, self._config.fingerprint_bytes)
        tailed = TailedFile.from_fd(entry.fingerprint, path, fd, entry.offset, most)
        tailed.inode = -1  # never the archive's: drained and closed at the copy's end
        return tailed

    def _make_room(self) -> bool:
        """At ``max_open_files``: close the file idle longest that has nothing left to read; it
        is reopened at its offset when it grows."""
        idle = [r for r in self._readers.values() if r.caught_up()]
        if not idle:
            return False
        self._close(min(idle, key=lambda r: r.last_data).key, "idle, to stay under max_open_files")
        return True

    def _forget_old(self, now: float) -> None:
        """Drop the state of files gone longer than ``forget_after``: memory stays bounded by
        the files that exist, however many come and go."""
        forgotten = self._files.forget(
            now, self._config.forget_after.total_seconds(), set(self._readers)
        )
        if forgotten:
            self._drained_orphans &= set(self._files.state)
            log.info("source=%s forgot the state of %d files gone", self._name, forgotten)

    def _backlog(self) -> int:
        return sum(max(0, r.tailed.size() - r.tailed.offset) for r in self._readers.values())

    # -- reading ---------------------------------------------------------------------------
    def read(self) -> list[Record]:
        now = time.monotonic()
        if now >= self._next_scan:
            self._scan(now)
        records: list[Record] = []
        budget = self._bucket.grant(self._config.batch_lines)
        if budget == 0:
            self._awake = self._bucket.next_token()
            return records
        for key, reader in list(self._readers.items()):
            if len(records) >= budget:
                break
            if self._kube is not None and not self._kube.ready(reader.metadata, now):
                continue  # its pod is not cached yet: held at most metadata_wait
            records.extend(self._read(key, reader, budget - len(records), now))
        if records:
            SOURCE_RECORDS.labels(self._name).inc(len(records))
        self._awake = None if records else self._idle_until(now)
        if not records and self._waiting.grown(now, self._config.poll_interval.total_seconds()):
            self._next_scan, self._awake = 0.0, None  # a waiting file grew: scan now
        self._backfill.report(self._backlog, now)
        return records

    def _read(self, key: str, reader: OpenFile, budget: int, now: float) -> list[Record]:
        tailed = reader.tailed
        if tailed.was_truncated(self._config.fingerprint_bytes):
            return self._restart_truncated(key, reader)
        start = tailed.offset
        plain = self._read_plain(reader, budget)
        if plain:
            SOURCE_BYTES.labels(self._name).inc(tailed.offset - start)
            self._keep_position(reader)
            reader.last_data = now
            return plain
        lines = tailed.read_lines(budget)
        gone = not lines and not self._still_at_path(tailed)
        if gone:  # nobody will read it after us: its partial last line too
            last = tailed.read_unterminated()
            lines = [] if last is None else [last]
        elif not lines:
            lines = reader.partial_line(now, self._config.partial_timeout.total_seconds())
        entries = self._entries(reader, lines, now)
        if gone:
            entries.extend(reader.assembler.flush_expired(float("inf")))
        self._keep_position(reader)
        if gone:
            self._close(key, "moved or deleted, drained")
        elif lines:
            reader.last_data = now
        elif (
            now - reader.last_data > self._config.close_inactive.total_seconds()
            and reader.assembler.pending_offset() is None
            and reader.partial is None
        ):
            self._close(key, "inactive")
            self._waiting.add(tailed.path, tailed.offset)
        return self._records(reader, entries)

    def _read_plain(self, reader: OpenFile, budget: int) -> list[Record]:
        """Records read by the compiled core, for a raw file with nothing to add or join: no
        metadata, no multiline, nothing held. Empty when the core is not there or leaves the
        next bytes to ``read_lines``."""
        if not self._plain or reader.metadata or reader.assembler.pending_offset() is not None:
            return []
        entry, tailed = reader.entry, reader.tailed
        build = plain_builder(
            self._name, entry.stream, entry.generation, tailed.path, tailed.max_line_bytes
        )
        return [] if build is None else tailed.read_plain(budget, build)

    def _entries(self, reader: OpenFile, lines: list[Line], now: float) -> list[Entry]:
        if lines:
            SOURCE_BYTES.labels(self._name).inc(sum(line.raw_length + 1 for line in lines))
        parse = self._parse
        parsed: list[Entry] = []
        for line in lines:
            entry = parse(line.offset, line.text)
            if line.truncated or line.invalid_utf8 or line.partial:
                flags = (
                    (("truncated",) if line.truncated else ())
                    + (("invalid_utf8",) if line.invalid_utf8 else ())
                    + (("partial_line",) if line.partial else ())
                )
                entry = entry._replace(tags=entry.tags + flags)
            parsed.append(entry)
        entries = reader.assembler.push_many(parsed, now)
        entries.extend(reader.assembler.flush_expired(now))
        return entries

    def _keep_position(self, reader: OpenFile) -> None:
        """The state entry follows the reader; the check bytes are read only when it moved."""
        offset = reader.resume_offset()
        entry = reader.entry
        if offset != entry.offset or str(reader.tailed.path) != entry.path:
            check = check_at(reader.tailed.handle.fileno(), offset) if offset else ""
            entry = entry._replace(offset=offset, path=str(reader.tailed.path), check=check)
            reader.entry = self._files.state[reader.key] = entry

    def _restart_truncated(self, key: str, reader: OpenFile) -> list[Record]:
        """copytruncate: hand on what was held, close, and let the next scan sort it out.

        The generation read so far is retired at the offset where reading stopped: a copy of
        it (logrotate's ``app.log.1``) is found by its head and the bytes before that offset
        and finished from there. What is at the path now is the next generation: new ids.
        """
        SOURCE_ERRORS.labels(self._name, "copytruncate").inc()
        log.warning(
            "source=%s path=%s truncated below offset %d; rescanning",
            self._name,
            reader.tailed.path,
            reader.tailed.offset,
        )
        held = reader.assembler.flush_expired(float("inf"))
        records = self._records(reader, held)
        self._close(key, "truncated")
        self._files.replaced_while_open(key, reader.entry._replace(offset=reader.tailed.offset))
        self._next_scan = 0.0
        return records

    def _close(self, key: str, why: str) -> None:
        reader = self._readers.pop(key)
        reader.tailed.close()
        log.info("source=%s path=%s closed: %s", self._name, reader.tailed.path, why)

    @staticmethod
    def _still_at_path(tailed: TailedFile) -> bool:
        try:
            return tailed.path.stat().st_ino == tailed.inode
        except OSError:
            return False

    def _records(self, reader: OpenFile, entries: list[Entry]) -> list[Record]:
        entry, meta = reader.entry, reader.metadata
        if self._kube is not None and entries:
            meta = self._kube.fields(meta, len(entries))
        return build_records(
            self._name, entry.stream, entry.generation, reader.tailed.path, meta, entries
        )

    def _idle_until(self, now: float) -> datetime:
        wait = self._config.poll_interval.total_seconds()
        deadlines = [
            d for r in self._readers.values() if (d := r.assembler.next_deadline()) is not None
        ]
        timeout = self._config.partial_timeout.total_seconds()
        deadlines += [r.partial[2] + timeout for r in self._readers.values() if r.partial]
        if deadlines:
            wait = max(0.0, min(wait, min(deadlines) - now))
        return datetime.now(UTC) + timedelta(seconds=wait)

    def position(self) -> FilesState:
        return self._files.snapshot()

    def close(self) -> None:
        for key in list(self._readers):
            self._close(key, "source closed")
        if self._kube is not None:
            self._kube.close()


class FilesSource(FixedPartitionedSource[Record, FilesState]):
    """Tails every file matched by the configured globs, picking up new files while running.

    Unit of parallelism: one partition per configured source. Guarantee: at-least-once; the
    snapshot holds, per file (``file_identity``: device and inode confirmed by the head's
    fingerprint, by default), the offset of the first line not yet handed on (including lines
    held back by multiline or partial-line joining), the file's stream and its generation, so a
    resumed flow re-reads exactly what followed its last snapshot, with the same event ids
    (``stream[.generation]:offset``). Resumes from that map, never from paths alone.
    """

    def __init__(self, config: FilesSourceConfig) -> None:
        self._config = config

    def list_parts(self) -> list[str]:
        return [self._config.name]

    def build_part(
        self, step_id: str, for_part: str, resume_state: FilesState | None
    ) -> _FilesPartition:
        return _FilesPartition(self._config, resume_state)
