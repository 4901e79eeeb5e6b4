"""Cutting one open file into complete lines, each with the byte offset where it starts.

The offset kept is always the start of the first line not yet handed on, so a partial last line
is read again (whole) once its newline arrives, and resuming at a saved offset never splits a line.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

from logwax.connectors.files.fingerprint import PROVISIONAL, first_line_fingerprint
from logwax.connectors.files.records import PlainBuilder
from logwax.core.record import Record, new_tuple

READ_CHUNK = 256 * 1024


class Line(NamedTuple):
    """One complete line; a NamedTuple because one is built per line (a frozen dataclass costs
    about three times as much to construct)."""

    offset: int
    text: str
    raw_length: int
    truncated: bool
    invalid_utf8: bool
    partial: bool = False  # a last line handed on without its newline


@dataclass
class TailedFile:
    """A file being read, known by fingerprint; ``path`` is where it was last seen.

    A line longer than ``max_line_bytes`` is handed on truncated (and flagged) and the rest of it
    skipped; ``offset`` stays at that line's start until its newline is found, so a crash while
    skipping replays the same truncated head with the same offset, i.e. the same event id.
    """

    fingerprint: str
    path: Path
    offset: int
    handle: BinaryIO
    inode: int
    max_line_bytes: int
    _skip_from: int | None = field(default=None, repr=False)

    @classmethod
    def open(cls, fingerprint: str, path: Path, offset: int, max_line_bytes: int) -> TailedFile:
        # Non-blocking, so a FIFO swapped in after the scan's check cannot hang the source.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        return cls.from_fd(fingerprint, path, fd, offset, max_line_bytes)

    @classmethod
    def from_fd(
        cls, fingerprint: str, path: Path, fd: int, offset: int, max_line_bytes: int
    ) -> TailedFile:
        """Takes ``fd`` over (closed on error). ``path`` is where its content was found: for the
        decompressed copy of an archive, the archive, whose inode is not the copy's."""
        result = os.fstat(fd)
        if not stat.S_ISREG(result.st_mode):
            os.close(fd)
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        handle = os.fdopen(fd, "rb")
        return cls(fingerprint, path, offset, handle, result.st_ino, max_line_bytes)

    def size(self) -> int:
        return os.fstat(self.handle.fileno()).st_size

    def was_truncated(self, fingerprint_bytes: int) -> bool:
        """copytruncate replaced the content under us, even if it has grown back since.

        Shorter than our offset, or a different first line at the same inode: either way what
        is there now is a new file. (A new first line identical to the old one that has grown
        past our offset cannot be told apart; that is copytruncate's own race.)
        """
        if self.size() < self.offset:
            return True
        if self.fingerprint.startswith(PROVISIONAL):
            return False  # named before its first line was complete: the size is all we have
        head = os.pread(self.handle.fileno(), fingerprint_bytes, 0)
        return first_line_fingerprint(head, fingerprint_bytes) != self.fingerprint

    def read_lines(self, limit: int) -> list[Line]:
        """Up to ``limit`` complete lines from ``offset``; advances ``offset`` past them."""
        lines: list[Line] = []
        chunk_size = max(READ_CHUNK, self.max_line_bytes + 1)
        while len(lines) < limit:
            skipping = self._skip_from is not None
            self.handle.seek(self._skip_from if self._skip_from is not None else self.offset)
            chunk = self.handle.read(chunk_size)
            if not chunk:
                break
            if self._skip_from is not None:
                newline = chunk.find(b"\n")
                if newline < 0:
                    self._skip_from += len(chunk)
                else:
                    self.offset, self._skip_from = self._skip_from + newline + 1, None
                continue
            if self._cut(chunk, lines, limit) == 0 and not skipping and self._skip_from is None:
                break
        return lines

    def read_plain(self, limit: int, build: PlainBuilder) -> list[Record]:
        """Up to ``limit`` records of plain lines from ``offset``, built by the compiled core a
        chunk at a time (``build`` is ``records.plain_builder``'s); advances ``offset`` past them.

        It stops at the first chunk the core leaves alone (invalid UTF-8, an overlong line, a
        line cut by the chunk's end): the caller then reads those same bytes with
        ``read_lines``, which handles them. Nothing here moves ``offset`` for a chunk it did
        not turn into records.
        """
        records: list[Record] = []
        chunk_size = max(READ_CHUNK, self.max_line_bytes + 1)
        while len(records) < limit and self._skip_from is None:
            self.handle.seek(self.offset)
            chunk = self.handle.read(chunk_size)
            made = build(chunk, self.offset, limit - len(records)) if chunk else None
            if made is None or made[1] == 0:  # the core answers a line or more, or None
                break
            records.extend(made[0])
            self.offset += made[1]
        return records

    def unterminated(self) -> tuple[int, int] | None:
        """(offset, size) if bytes without a newline follow ``offset``: a partial last line."""
        if self._skip_from is not None:
            return None
        size = self.size()
        return (self.offset, size) if size > self.offset else None

    def read_unterminated(self) -> Line | None:
        """The partial last line as a line of its own; ``offset`` moves past it. Called once
        the writer left it alone for the partial timeout: whatever follows is a new line."""
        if self.unterminated() is None:
            return None
        data = os.pread(self.handle.fileno(), self.max_line_bytes + 1, self.offset)
        if not data or b"\n" in data:
            return None  # a newline came meanwhile: read_lines takes it
        lines: list[Line] = []
        self._emit(data[: self.max_line_bytes], 0, lines, len(data) > self.max_line_bytes)
        self.offset += len(data)
        return lines[0]._replace(partial=True)

    def _cut(self, chunk: bytes, lines: list[Line], limit: int) -> int:
        """Emit the complete lines of ``chunk`` (at most ``limit`` in ``lines``); returns how
        many bytes were consumed.

        Most chunks are ASCII lines, none too long: they are decoded in one call and split as
        text up to the lines there is room for, without a ``bytes`` object per line (the split
        in bytes was an eighth of reading a file, and it split the whole chunk also when there
        was room for part of it). A line's final CR is dropped here too, so CRLF files stay on
        this path. Any other chunk takes :meth:`_cut_general`, which gives the same lines for
        these (``test_tail_cut``).
        """
        last = chunk.rfind(b"\n")
        room = limit - len(lines)
        if last < 0 or room <= 0:
            return self._cut_general(chunk, lines, limit)
        try:
            text = chunk[:last].decode("utf-8")
        except UnicodeDecodeError:
            return self._cut_general(chunk, lines, limit)
        texts = text.split("\n", room)
        if len(texts) > room:
            del texts[room:]
        elif len(chunk) - last - 1 > self.max_line_bytes:
            return self._cut_general(chunk, lines, limit)  # an overlong line follows
        if not text.isascii() or max(map(len, texts)) > self.max_line_bytes:
            return self._cut_general(chunk, lines, limit)
        start = offset = self.offset
        append = lines.append
        if "\r" in text:  # CRLF line ends: the final CR dropped, as _emit drops it
            for line in texts:
                size = len(line)
                if line.endswith("\r"):
                    append(new_tuple(Line, (offset, line[:-1], size - 1, False, False, False)))
                else:
                    append(new_tuple(Line, (offset, line, size, False, False, False)))
                offset += size + 1
        else:
            for line in texts:
                size = len(line)
                append(new_tuple(Line, (offset, line, size, False, False, False)))
                offset += size + 1
        self.offset = offset
        return offset - start

    def _cut_general(self, chunk: bytes, lines: list[Line], limit: int) -> int:
        """``_cut`` for any chunk: lines in other scripts, invalid UTF-8, CR, overlong lines.

        The common case (valid UTF-8, no overlong line, no CR) is split and decoded by two C
        calls for the whole chunk; a per-line ``find`` and ``decode`` loop was the largest cost
        of reading a file. Lines that need care go through :meth:`_emit`.
        """
        pieces = chunk.split(b"\n")
        tail: bytes | None = pieces.pop()  # after the last newline: not a complete line yet
        room = limit - len(lines)
        if len(pieces) >= room:
            del pieces[room:]
            tail = None
        consumed = sum(len(piece) for piece in pieces) + len(pieces)
        texts: list[str] | list[None]
        try:
            texts = chunk[: max(0, consumed - 1)].decode("utf-8").split("\n") if pieces else []
        except UnicodeDecodeError:
            texts = [None] * len(pieces)  # each line decodes (with replacement) on its own
        start, most = 0, self.max_line_bytes
        for raw, text in zip(pieces, texts, strict=True):
            size = len(raw)
            if text is not None and size <= most and not text.endswith("\r"):
                lines.append(
                    new_tuple(Line, (self.offset + start, text, size, False, False, False))
                )
            else:
                self._emit(raw[:most], start, lines, size > most)
            start += size + 1
        if tail is not None and len(tail) > most:
            self._emit(tail[:most], start, lines, True)
            self._skip_from = self.offset + len(chunk)
        self.offset += start
        return start

    def _emit(self, raw: bytes, start: int, lines: list[Line], truncated: bool) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            text, invalid = raw.decode("utf-8"), False
        except UnicodeDecodeError:
            text, invalid = raw.decode("utf-8", errors="replace"), True
        lines.append(Line(self.offset + start, text, len(raw), truncated, invalid))

    def close(self) -> None:
        self.handle.close()
