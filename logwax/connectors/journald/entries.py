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

# Fields the record carries elsewhere (cursor, message, timestamp) or that only journald needs.
_DROP = ("__MONOTONIC_TIMESTAMP", "__SEQNUM", "__SEQNUM_ID")


def _is_bytes(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(b, int) for b in value)


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
    head = cursor.split(";", 2)
    if len(head) > 1 and head[0][:2] == "s=" and head[1][:2] == "i=":  # journalctl's order
        return f"{head[0][2:]}:{head[1][2:]}"
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

    The parsed entry becomes the record's ``journald`` field in place (a copy per entry was a
    fifth of the source's time); only the rare non-string values are converted.
    """
    entry = jsoncodec.loads(line)
    if not isinstance(entry, dict) or "__CURSOR" not in entry:
        raise ValueError("not a journal entry (no __CURSOR)")
    pop = entry.pop
    cursor = pop("__CURSOR")
    message = pop("MESSAGE", "")
    realtime = pop("__REALTIME_TIMESTAMP", 0)
    for name in _DROP:
        pop(name, None)
    for key, value in entry.items():
        if type(value) is not str:
            entry[key] = _convert(value)
    fields: dict[str, Any] = {"journald": entry, "journald_cursor": cursor}
    if type(message) is not str:
        if _is_bytes(message):
            message = bytes(message).decode("utf-8", errors="replace")
            fields["tags"] = ["binary_message"]
        elif isinstance(message, list):
            message = "\n".join(str(m) for m in message)
        else:
            message = str(message)
    unit = entry.get("_SYSTEMD_UNIT") or entry.get("SYSLOG_IDENTIFIER") or "journal"
    return Record(
        source=source,
        stream=f"{entry.get('_BOOT_ID', '')}/{unit}" if isinstance(unit, str) else "journal",
        event_id=cursor_event_id(cursor),
        timestamp_ns=int(realtime) * 1000,
        message=message,
        fields=fields,
    )
