"""Joining pieces into events: container runtime partial lines, then multiline groups.

Both hold lines back, so both report the offset of the oldest line they hold: the source
snapshots that offset (not the read position), and a resumed flow reads the held lines again
instead of losing them. An event's id comes from its first line's offset, so the same event gets
the same id however often it is rebuilt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from logwax.connectors.files.config import FilesSourceConfig
from logwax.connectors.files.formats import Entry


@dataclass
class _Group:
    entries: list[Entry] = field(default_factory=list)
    size: int = 0
    updated: float = 0.0

    def add(self, entry: Entry, now: float) -> None:
        self.entries.append(entry)
        self.size += len(entry.text)
        self.updated = now


def _join(entries: list[Entry], separator: str, extra_tags: tuple[str, ...] = ()) -> Entry:
    first = entries[0]
    tags = tuple(dict.fromkeys(t for e in entries for t in e.tags)) + extra_tags
    text = separator.join(e.text for e in entries)
    return first._replace(text=text, partial=False, tags=tags)


class Assembler:
    """Per-file joiner. ``start_pattern`` None means no multiline grouping."""

    def __init__(
        self, start_pattern: str | None, timeout: float, max_lines: int, max_bytes: int
    ) -> None:
        self._start = re.compile(start_pattern) if start_pattern else None
        self._timeout = timeout
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._partials: dict[str, _Group] = {}
        self._groups: dict[str, _Group] = {}

    def push(self, entry: Entry, now: float) -> list[Entry]:
        """Feed one parsed line; returns the events it completed (possibly none)."""
        if entry.partial or entry.stream in self._partials:
            group = self._partials.setdefault(entry.stream, _Group())
            group.add(entry, now)
            if entry.partial and group.size < self._max_bytes:
                return []
            del self._partials[entry.stream]
            tags = ("partial_too_long",) if entry.partial else ()
            entry = _join(group.entries, "", tags)
        return self._multiline(entry, now)

    def push_many(self, entries: list[Entry], now: float) -> list[Entry]:
        """``push`` of each entry, in order. Without multiline grouping, and with no piece held
        or coming, every entry is an event as it is: the batch is returned as it came, without
        a call and a list per line."""
        if self._start is None and not self._partials and not any(e.partial for e in entries):
            return entries
        done: list[Entry] = []
        for entry in entries:
            done.extend(self.push(entry, now))
        return done

    def _multiline(self, entry: Entry, now: float) -> list[Entry]:
        if self._start is None:
            return [entry]
        done: list[Entry] = []
        group = self._groups.get(entry.stream)
        if group is not None and self._start.search(entry.text):
            done.append(_join(group.entries, "\n"))
            group = None
        if group is None:
            group = self._groups[entry.stream] = _Group()
        group.add(entry, now)
        if len(group.entries) >= self._max_lines or group.size >= self._max_bytes:
            done.append(_join(group.entries, "\n", ("multiline_limit",)))
            del self._groups[entry.stream]
        return done

    def flush_expired(self, now: float) -> list[Entry]:
        """Events whose last line is older than the timeout: nothing more is coming soon."""
        done: list[Entry] = []
        for stream, group in list(self._partials.items()):
            if now - group.updated >= self._timeout:
                del self._partials[stream]
                done.extend(self._multiline(_join(group.entries, "", ("partial_timeout",)), now))
        for stream, group in list(self._groups.items()):
            if now - group.updated >= self._timeout:
                del self._groups[stream]
                done.append(_join(group.entries, "\n"))
        return done

    def pending_offset(self) -> int | None:
        """Offset of the oldest line held back, or None if nothing is."""
        firsts = [g.entries[0].offset for g in (*self._partials.values(), *self._groups.values())]
        return min(firsts, default=None)

    def next_deadline(self) -> float | None:
        updates = [g.updated for g in (*self._partials.values(), *self._groups.values())]
        return min(updates) + self._timeout if updates else None


def assembler_for(config: FilesSourceConfig) -> Assembler:
    """A file's joiner as configured: multiline groups, or only container partial pieces."""
    multiline, max_bytes = config.multiline, int(config.max_line_bytes)
    if multiline is None:
        return Assembler(None, config.partial_timeout.total_seconds(), 1, max_bytes)
    return Assembler(
        multiline.start_pattern, multiline.timeout.total_seconds(), multiline.max_lines, max_bytes
    )
