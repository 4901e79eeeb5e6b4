"""Cutting a record so the whole record fits a sink's size limit.

The ``oversize: truncate`` policy keeps every field and the event id: the message text is
shortened (on a UTF-8 character boundary), and when a field's string is longer than the message,
that string is; the record is tagged ``truncated`` and its original encoded size kept in
``logwax.original_size``. When no such cut gets it under the limit (a record of very many small
fields), the caller dead-letters the record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from logwax.core import jsoncodec
from logwax.core.record import Record, json_text, with_tags

# Each attempt cuts what the last was over by, plus this: escapes make encoded text longer
# than its UTF-8, so one cut may not be enough; the loop is bounded.
SLACK = 64
ATTEMPTS = 16
# Values looked at when searching the longest field, so a record of a million tiny fields costs
# a bounded time (and is dead-lettered if cutting what was seen does not help).
MAX_VISITS = 100_000


def mark_truncated(record: Record, original_size: int) -> Record:
    fields: dict[str, Any] = dict(record.fields)
    own = fields.get("logwax")
    if isinstance(own, Mapping):
        fields["logwax"] = {**own, "original_size": original_size}
    else:
        if own is not None:
            fields["logwax_invalid"] = json_text(own)
        fields["logwax"] = {"original_size": original_size}
    with_tags(fields, "truncated")
    return record._replace(fields=fields)


def cut_text(text: str, over: int) -> str:
    """``text`` shortened by about ``over`` encoded bytes (plus slack), on a character boundary.

    What is over is counted in encoded bytes; the cut is in UTF-8 bytes, scaled by how much the
    text grows when encoded (control characters grow sixfold), so escapes do not make it cut
    everything.
    """
    raw = text.encode("utf-8", "surrogatepass")
    grown = max(len(jsoncodec.dumps(text)) - 2, 1) / max(len(raw), 1)
    keep = max(int((len(raw) * grown - over - SLACK) / grown), 0)
    return raw[:keep].decode("utf-8", "ignore")


def _longest_field(fields: Mapping[str, Any]) -> tuple[tuple[Any, ...], int]:
    """Path to the longest string among the fields (ours, ``logwax`` and ``tags``, left out)."""
    best: tuple[tuple[Any, ...], int] = ((), 0)
    stack: list[tuple[tuple[Any, ...], Any]] = [
        ((key,), value) for key, value in fields.items() if key not in ("logwax", "tags")
    ]
    for _ in range(MAX_VISITS):
        if not stack:
            break
        path, value = stack.pop()
        if isinstance(value, str):
            if len(value) > best[1]:
                best = (path, len(value))
        elif isinstance(value, dict):
            stack.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))
    return best


def _replaced(fields: Mapping[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    """``fields`` with the value at ``path`` replaced, copying only the containers on the way."""
    top = dict(fields)
    node: Any = top
    for key in path[:-1]:
        child = node[key]
        node[key] = child = dict(child) if isinstance(child, dict) else list(child)
        node = child
    node[path[-1]] = value
    return top


def truncate_to_fit(
    record: Record, size: int, limit: int, size_of: Callable[[Record], int]
) -> Record | None:
    """The record cut so ``size_of`` is within ``limit``, or None when no cut gets it there.

    Each round cuts the longest text: the message, or a field's string when that is longer (a
    journald entry's huge field, say), so a record fits with as much of everything as fits.
    """
    current, over = record, size - limit
    for _ in range(ATTEMPTS):
        path, longest = _longest_field(current.fields)
        if len(current.message) >= longest:
            if not current.message:
                return None
            current = current._replace(message=cut_text(current.message, over))
        else:
            node: Any = current.fields
            for key in path:
                node = node[key]
            current = current._replace(fields=_replaced(current.fields, path, cut_text(node, over)))
        candidate = mark_truncated(current, size)
        now = size_of(candidate)
        if now <= limit:
            return candidate
        over = now - limit
    return None
