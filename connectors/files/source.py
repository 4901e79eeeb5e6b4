"""bytewax source that tails the files matched by globs, resumable from fingerprint → offset."""

from __future__ import annotations

import fnmatch
import glob
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from connectors.files.config import FilesSourceConfig
from connectors.files.fingerprint import fingerprint_file
from connectors.files.tail import Line, TailedFile
from logwax import shutdown
from logwax.metrics import SOURCE_BYTES, SOURCE_ERRORS, SOURCE_RECORDS
from logwax.record import Record

log = logging.getLogger(__name__)

# Resume state: fingerprint → offset of the first byte not yet handed on.
FileOffsets = dict[str, int]


class _FilesPartition(StatefulSourcePartition[Record, FileOffsets]):
    def __init__(self, config: FilesSourceConfig, resume: FileOffsets | None) -> None:
        self._config = config
        self._offsets: FileOffsets = dict(resume or {})
        self._open: dict[str, TailedFile] = {}
        self._first_scan = resume is None
        self._next_scan = 0.0
        self._idle_until: datetime | None = None

    def _matches(self) -> list[Path]:
        found: set[str] = set()
        for pattern in self._config.include:
            found.update(glob.glob(pattern, recursive=True))
        return sorted(
            Path(p)
            for p in found
            if Path(p).is_file() and not any(fnmatch.fnmatch(p, x) for x in self._config.exclude)
        )

    def _scan(self) -> None:
        """Open files new since the last scan; a path now holding another file is rotation."""
        for path in self._matches():
            fingerprint = fingerprint_file(path, self._config.fingerprint_bytes)
            if fingerprint is None:
                continue
            tailed = self._open.get(fingerprint)
            if tailed is not None:
                tailed.path = path
                continue
            offset = self._offsets.get(fingerprint)
            if offset is None:
                offset = path.stat().st_size if self._wants_end() else 0
            try:
                tailed = TailedFile.open(fingerprint, path, offset, self._config.max_line_bytes)
            except OSError as exc:
                SOURCE_ERRORS.labels(self._config.name, "open").inc()
                log.warning("source=%s path=%s cannot open: %s", self._config.name, path, exc)
                continue
            self._open[fingerprint] = tailed
            self._offsets[fingerprint] = offset
            log.info(
                "source=%s path=%s fingerprint=%s offset=%d opened",
                self._config.name,
                path,
                fingerprint,
                offset,
            )
        self._first_scan = False
        self._next_scan = time.monotonic() + self._config.scan_interval.total_seconds()

    def _wants_end(self) -> bool:
        return self._first_scan and self._config.read_from == "end"

    def next_batch(self) -> list[Record]:
        if shutdown.requested():
            raise StopIteration
        if time.monotonic() >= self._next_scan:
            self._scan()
        records: list[Record] = []
        budget = self._config.batch_lines
        for tailed in list(self._open.values()):
            if tailed.was_truncated():
                # copytruncate: the content now there is a new file; the next scan identifies it.
                SOURCE_ERRORS.labels(self._config.name, "copytruncate").inc()
                log.warning(
                    "source=%s path=%s truncated below offset %d; rescanning",
                    self._config.name,
                    tailed.path,
                    tailed.offset,
                )
                tailed.close()
                del self._open[tailed.fingerprint]
                del self._offsets[tailed.fingerprint]
                self._next_scan = 0.0
                continue
            lines = tailed.read_lines(budget - len(records))
            records.extend(self._to_record(tailed, line) for line in lines)
            self._offsets[tailed.fingerprint] = tailed.offset
            if not lines and not self._still_at_path(tailed):
                tailed.close()
                del self._open[tailed.fingerprint]
            if len(records) >= budget:
                break
        if records:
            SOURCE_RECORDS.labels(self._config.name).inc(len(records))
            self._idle_until = None
        else:
            self._idle_until = datetime.now(UTC) + self._config.poll_interval
        return records

    def _still_at_path(self, tailed: TailedFile) -> bool:
        """A renamed-away or deleted file is closed once drained; its offset stays known."""
        try:
            return tailed.path.stat().st_ino == tailed.inode
        except FileNotFoundError:
            return False

    def _to_record(self, tailed: TailedFile, line: Line) -> Record:
        SOURCE_BYTES.labels(self._config.name).inc(line.raw_length + 1)
        fields: dict[str, object] = {
            "log": {"file": {"path": str(tailed.path)}, "offset": line.offset}
        }
        tags = [
            t
            for t, on in (("truncated", line.truncated), ("invalid_utf8", line.invalid_utf8))
            if on
        ]
        if tags:
            fields["tags"] = tags
            for tag in tags:
                SOURCE_ERRORS.labels(self._config.name, tag).inc()
        return Record(
            source=self._config.name,
            stream=tailed.fingerprint,
            event_id=f"{tailed.fingerprint}:{line.offset}",
            timestamp_ns=time.time_ns(),
            message=line.text,
            fields=fields,
        )

    def next_awake(self) -> datetime | None:
        return self._idle_until

    def snapshot(self) -> FileOffsets:
        return dict(self._offsets)

    def close(self) -> None:
        for tailed in self._open.values():
            tailed.close()
        self._open.clear()


class FilesSource(FixedPartitionedSource[Record, FileOffsets]):
    """Tails every file matched by the configured globs, picking up new files while running.

    Unit of parallelism: one partition per configured source. Guarantee: at-least-once; the
    snapshot holds, per file fingerprint, the offset after the last line handed on, so a resumed
    flow re-reads exactly what followed its last snapshot, with the same event ids
    (``fingerprint:offset``). Resumes from that fingerprint → offset map, never from paths.
    """

    def __init__(self, config: FilesSourceConfig) -> None:
        self._config = config

    def list_parts(self) -> list[str]:
        return [self._config.name]

    def build_part(
        self, step_id: str, for_part: str, resume_state: FileOffsets | None
    ) -> _FilesPartition:
        return _FilesPartition(self._config, resume_state)
