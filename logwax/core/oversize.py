"""Cutting a record's message so the whole record fits a sink's size limit.

The ``oversize: truncate`` policy keeps every field and the event id: only the message text is
shortened (on a UTF-8 character boundary), the record is tagged ``truncated`` and its original
encoded size kept in ``logwax.original_size``. When the fields alone are over the limit no cut of
the message helps; the caller then dead-letters the record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from logwax.core import jsoncodec
from logwax.core.record import Record, json_text, with_tags

# Each attempt cuts what the last was over by, plus this: escapes make encoded text longer
# than its UTF-8, so one cut may not be enough; the loop is bounded.
SLACK = 64
ATTEMPTS = 8


def mark_truncated(record: Record, message: str, original_size: int) -> Record:
    fields: dict[str, Any] = dict(record.fields)
    own = fields.get("logwax")
    if isinstance(own, Mapping):
        fields["logwax"] = {**own, "original_size": original_size}
    else:
        if own is not None:
            fields["logwax_invalid"] = json_text(own)
        fields["logwax"] = {"original_size": original_size}
    with_tags(fields, "truncated")
    return record._replace(message=message, fields=fields)


def truncate_to_fit(
    record: Record, size: int, limit: int, size_of: Callable[[Record], int]
) -> Record | None:
    """The record with its message cut so ``size_of`` is within ``limit``, or None.

    What is over is counted in encoded bytes; the cut is in UTF-8 bytes, scaled by how much the
    message grows when encoded (control characters grow sixfold), so escapes do not make it
    cut everything.
    """
    encoded = record.message.encode("utf-8", "surrogatepass")
    over = size - limit
    for _ in range(ATTEMPTS):
        text = encoded.decode("utf-8", "ignore")
        grown = max(len(jsoncodec.dumps(text)) - 2, 1) / max(len(encoded), 1)
        keep = max(int((len(encoded) * grown - over - SLACK) / grown), 0)
        encoded = encoded[:keep]
        candidate = mark_truncated(record, encoded.decode("utf-8", "ignore"), size)
        now = size_of(candidate)
        if now <= limit:
            return candidate
        if keep == 0:
            return None
        over = now - limit
    return None
