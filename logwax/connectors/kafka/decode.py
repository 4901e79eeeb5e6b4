"""Kafka messages into records, total: any bytes, any header, any JSON value gives a record.

The index flow reads what other producers wrote, so nothing here trusts a type. A value that
cannot be used where it was found is kept under a documented name, as JSON text so that it can
never conflict with an index mapping, and the record is tagged:

* value not a JSON object (or not JSON, or nested deeper than 1,024 levels): the bytes as text
  in ``message`` (invalid UTF-8 replaced), tag ``not_json``;
* ``@timestamp`` that is not an RFC 3339 string or an epoch number (seconds, milliseconds,
  microseconds or nanoseconds, told apart by magnitude), or outside the years 1 to 9999 once in
  UTC: kept in ``timestamp_invalid``, tag ``invalid_timestamp``, the Kafka message timestamp used;
* ``message`` that is not a string: its JSON text, tag ``message_not_string``;
* ``logwax`` that is not an object: kept in ``logwax_invalid``, tag ``invalid_logwax_field``;
* header values that are not UTF-8: invalid bytes written as ``\\xNN`` escapes, so the event
  id stays deterministic.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from confluent_kafka import Message

from logwax.core import jsoncodec
from logwax.core.record import Record, clean_text, in_range, json_text, new_tuple, with_tags

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SECOND = timedelta(seconds=1)
_CALENDAR = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def header(message: Message, name: str) -> str | None:
    headers = message.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    for pair in pairs:
        key, value = pair[0], pair[1]
        if key == name and value is not None:
            if isinstance(value, bytes):
                return value.decode("utf-8", "backslashreplace")
            return clean_text(str(value))
    return None


def epoch_ns(number: float) -> int | None:
    """Epoch seconds, ms, µs or ns by magnitude (seconds up to the year 5138)."""
    if isinstance(number, float) and not math.isfinite(number):
        return None
    size = abs(number)
    scale = 1 if size >= 1e17 else 1_000 if size >= 1e14 else 1_000_000 if size >= 1e11 else 10**9
    return int(number * scale) if isinstance(number, float) else number * scale


@lru_cache(maxsize=4096)
def _utc_second(calendar: str) -> int | None:
    """Epoch seconds of a ``YYYY-MM-DDTHH:MM:SS`` in UTC, or None if it is no such time."""
    if not _CALENDAR.fullmatch(calendar):
        return None
    try:
        return (datetime.fromisoformat(calendar).replace(tzinfo=UTC) - _EPOCH) // _SECOND
    except ValueError:
        return None


def _logwax_timestamp(text: str) -> int | None:
    """The ``@timestamp`` logwax itself writes (``2026-11-23T07:22:07.123456+00:00``), with the
    calendar part cached: records of a batch share their second, and the general parse (an
    integer attempt that raises, then ``fromisoformat``) was a tenth of the index flow's time
    per record. None when ``text`` is any other form, for the general parse to judge."""
    if len(text) != 32 or text[19] != "." or not text.endswith("+00:00"):
        return None
    micros = text[20:26]
    if not (micros.isascii() and micros.isdigit()):
        return None
    second = _utc_second(text[:19])
    return None if second is None else second * 1_000_000_000 + int(micros) * 1000


def parse_timestamp(stamp: Any) -> int | None:
    """UTC nanoseconds of a timestamp value, or None when it is none we can use."""
    nanos: int | None = None
    if isinstance(stamp, bool):
        return None
    if type(stamp) is str and (ours := _logwax_timestamp(stamp)) is not None:
        return ours if in_range(ours) else None
    if isinstance(stamp, int | float):
        nanos = epoch_ns(stamp)
    elif isinstance(stamp, str):
        text = stamp.strip()
        try:
            nanos = epoch_ns(int(text))
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                return None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            nanos = (parsed - _EPOCH) // _MICROSECOND * 1000
    return nanos if nanos is not None and in_range(nanos) else None


def decode(message: Message) -> Record:
    """Our own JSON documents come back as records; anything else is kept as its text."""
    topic, partition, offset = message.topic() or "", message.partition(), message.offset()
    raw = message.value() or b""
    try:
        document = jsoncodec.loads(raw)
    except ValueError:
        document = None
    fields: dict[str, Any] = {}
    tags: list[str] = []
    origin: Any = None
    stamp: Any = None
    if isinstance(document, dict):
        text = document.pop("message", "")
        if isinstance(text, str):
            message_text = clean_text(text)
        else:
            message_text = json_text(text)
            tags.append("message_not_string")
        stamp = document.pop("@timestamp", None)
        document.pop("event", None)
        origin = document.pop("logwax", None)
        fields = document
    else:
        message_text = raw.decode("utf-8", errors="replace")
        tags.append("not_json")
    source = stream = None
    if isinstance(origin, dict):
        source, stream = origin.pop("source", None), origin.pop("stream", None)
        if origin:
            fields["logwax"] = origin
    elif origin is not None:
        fields["logwax_invalid"] = json_text(origin)
        tags.append("invalid_logwax_field")
    timestamp_ns = parse_timestamp(stamp) if stamp is not None else None
    if timestamp_ns is None:
        if stamp is not None:
            fields["timestamp_invalid"] = json_text(stamp)
            tags.append("invalid_timestamp")
        timestamp_ns = max(message.timestamp()[1], 0) * 1_000_000
    if tags or "tags" in fields:
        with_tags(fields, *tags)
    fields["kafka"] = {"topic": topic, "partition": partition, "offset": offset}
    # Positional, by ``new_tuple``: the keyword form of a NamedTuple's constructor cost twice
    # as much as the positional one, which costs 0.14 µs more than this.
    return new_tuple(
        Record,
        (
            clean_text(source) if isinstance(source, str) and source else topic,
            clean_text(stream) if isinstance(stream, str) and stream else f"{topic}/{partition}",
            header(message, "event_id") or f"{topic}/{partition}/{offset}",
            timestamp_ns,
            message_text,
            fields,
        ),
    )
