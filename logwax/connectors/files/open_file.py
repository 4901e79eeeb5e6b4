"""A file the source holds open: its handle, its state entry and what is held back from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from logwax.connectors.files.assemble import Assembler
from logwax.connectors.files.identity import FileState
from logwax.connectors.files.tail import Line, TailedFile


@dataclass
class OpenFile:
    key: str
    tailed: TailedFile
    entry: FileState
    assembler: Assembler
    last_data: float
    metadata: dict[str, Any]
    partial: tuple[int, int, float] | None = None  # unterminated tail: (offset, size, since)

    def resume_offset(self) -> int:
        pending = self.assembler.pending_offset()
        return self.tailed.offset if pending is None else pending

    def caught_up(self) -> bool:
        return self.assembler.pending_offset() is None and self.tailed.size() <= self.tailed.offset

    def partial_line(self, now: float, timeout: float) -> list[Line]:
        """A last line without newline, left alone for ``timeout``: handed on (the caller tags
        it). Text written after it, even the rest of that line, becomes a line of its own."""
        tail = self.tailed.unterminated()
        if tail is None:
            self.partial = None
            return []
        if self.partial is None or self.partial[:2] != tail:
            self.partial = (*tail, now)
            return []
        if now - self.partial[2] < timeout:
            return []
        self.partial = None
        line = self.tailed.read_unterminated()
        return [] if line is None else [line]
