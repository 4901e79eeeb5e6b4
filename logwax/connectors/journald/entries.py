"""journalctl's JSON entries → records, keeping binary and repeated fields.

journalctl renders a value that is not printable UTF-8 as an array of byte values, and a field
that occurs several times as an array of values. Binary values are kept as base64 under
``{"base64": ...}`` (and the message decoded with replacement and tagged), never dropped.
"""

from __future__ import annotations

import base64
from typing import Any

from logwax.core import jsoncodec
from logwax.core.record import Record

_SKIP = {
    "__CURSOR",
    "MESSAGE",
    "__REALTIME_TIMESTAMP",
    "__MONOTONIC_TIMESTAMP",
    "__SEQNUM",
    "__SEQNUM_ID",
}


def _is_bytes(value: Any) -> bool:
    return isinstance(value, list) and all(type(b) is int and 0 <= b < 256 for b in value)


def _convert(value: Any) -> Any:
    if type(value) is str:  # nearly every field: skip the list checks
        return value
    if _is_bytes(value):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, list):
        return [_convert(v) for v in value]
    return value


def cursor_event_id(cursor: str) -> str:
    """``s=<seqnum id>;i=<seqnum hex>;...`` → ``<seqnum id>:<seqnum>``: stable, short, unique."""
    seqnum_id = seqnum = None
    for item in cursor.split(";"):
        if item.startswith("s="):
            seqnum_id = item[2:]
        elif item.startswith("i="):
            seqnum = item[2:]
    if seqnum_id is not None and seqnum is not None:
        return f"{seqnum_id}:{seqnum}"
    return cursor


def to_record(source: str, line: bytes) -> Record:
    """One JSON line from journalctl; raises ValueError on anything that is not an entry.

    An entry (a JSON object with a string ``__CURSOR``) always gives a record, whatever its
    other fields hold: a timestamp that is not a number is tagged ``invalid_timestamp``.
    """
    entry = jsoncodec.loads(line)
    if not isinstance(entry, dict) or not isinstance(entry.get("__CURSOR"), str):
        raise ValueError("not a journal entry (no __CURSOR)")
    tags: list[str] = []
    try:
        timestamp_ns = int(entry.get("__REALTIME_TIMESTAMP", 0)) * 1000
    except (TypeError, ValueError):
        timestamp_ns = 0
        tags.append("invalid_timestamp")
    message = entry.get("MESSAGE", "")
    if _is_bytes(message):
        message = bytes(message).decode("utf-8", errors="replace")
        tags.append("binary_message")
    elif isinstance(message, list):
        message = "\n".join(str(m) for m in message)
    fields: dict[str, Any] = {
        "journald": {k: _convert(v) for k, v in entry.items() if k not in _SKIP},
        "journald_cursor": entry["__CURSOR"],
    }
    if tags:
        fields["tags"] = tags
    unit = entry.get("_SYSTEMD_UNIT") or entry.get("SYSLOG_IDENTIFIER") or "journal"
    return Record(
        source=source,
        stream=f"{entry.get('_BOOT_ID', '')}/{unit}" if isinstance(unit, str) else "journal",
        event_id=cursor_event_id(entry["__CURSOR"]),
        timestamp_ns=timestamp_ns,
        message=str(message),
        fields=fields,
    )
