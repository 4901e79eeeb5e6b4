"""Records from the entries of one read of one file."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logwax.connectors.files.formats import Entry
from logwax.core import native
from logwax.core.metrics import SOURCE_ERRORS
from logwax.core.record import Record, new_tuple


def id_prefix(stream: str, generation: int) -> str:
    """A line's id is this and its offset: unique per line of each distinct file, from the
    file's stream (fixed when first seen and kept in the snapshot), its generation (content
    replaced under the same key) and the offset."""
    return f"{stream}:" if generation == 0 else f"{stream}.{generation}:"


# A chunk of a file, the offset it starts at and the room left → the records of its first
# complete lines and the bytes they took, or None when the chunk is not for the compiled core.
PlainBuilder = Callable[[bytes, int, int], tuple[list[Record], int] | None]


def plain_builder(
    source: str, stream: str, generation: int, path: Path, max_line_bytes: int
) -> PlainBuilder | None:
    """``build_records`` of ``parse_raw``'s entries, fused in the compiled core, for a file
    without metadata: the records (ids, offsets, fields) are the Python path's
    (``test_native_equal``). None without the core."""
    core = native.CORE
    if core is None:
        return None
    where, read_ns = {"path": str(path)}, time.time_ns()
    prefix = id_prefix(stream, generation)

    def build(chunk: bytes, offset: int, room: int) -> tuple[list[Record], int] | None:
        made: tuple[list[Record], int] | None = core.file_records(
            Record, chunk, offset, room, max_line_bytes, source, stream, prefix, read_ns, where
        )
        return made

    return build


def build_records(
    source: str,
    stream: str,
    generation: int,
    path: Path,
    metadata: dict[str, Any],
    entries: list[Entry],
) -> list[Record]:
    """Records of one read. Lines without a timestamp of their own get the read time.

    The file's path is one dict shared by the records of a read: records are never changed in
    place (transform rules copy first), and sharing it saved a third of the cost of building a
    record.
    """
    where, read_ns = {"path": str(path)}, time.time_ns()
    prefix = id_prefix(stream, generation)
    records: list[Record] = []
    append = records.append
    for entry in entries:
        offset = entry.offset
        fields: dict[str, Any] = {"log": {"file": where, "offset": offset}}
        if metadata:
            fields.update(metadata)
        if entry.fields:
            fields.update(entry.fields)
        line_id = f"{prefix}{offset}"
        if entry.tags:
            fields["tags"] = list(entry.tags)
            for tag in entry.tags:
                SOURCE_ERRORS.labels(source, tag).inc()
            if "partial_line" in entry.tags:
                # Replayed after a crash, the same bytes may have become a whole line: it must
                # not share this id, or the idempotent sinks would keep the piece and drop the
                # line.
                line_id += "p"
        append(
            new_tuple(
                Record, (source, stream, line_id, entry.timestamp_ns or read_ns, entry.text, fields)
            )
        )
    return records
