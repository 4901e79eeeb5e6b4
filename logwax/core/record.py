"""The one record type that flows through every logwax dataflow.

It is built once per log line, so its cost is the shipper's floor. ``bench/record_model.py``
measured the candidates (2 cores, CPython 3.11): a ``NamedTuple`` took ~250 ns to build, a frozen
slotted dataclass ~730 ns, a validating pydantic model ~1,700 ns. A mutable slotted dataclass was
faster (~160 ns) but mutable, and pickled 25% larger into bytewax snapshots and exchange.
Validation happens where untrusted data enters (config, decoded Kafka payloads), not on every
internal hop.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from logwax.core import jsoncodec

# Fields under this name are hints for sinks and are removed from what is shipped.
METADATA = "@metadata"

# ``new_tuple(Record, (...))`` builds a NamedTuple without the ``__new__`` written in Python
# that ``Record(...)`` runs (0.34 -> 0.20 µs): for the loops that build one per line. It applies
# no defaults, so every field is given (``tests/unit/test_hot_tuples.py`` checks the callers).
new_tuple = tuple.__new__


class Record(NamedTuple):
    """One log line or event, normalised.

    ``event_id`` is deterministic: reading the same line or event again after a crash yields the
    same id, which is what dedup and the idempotent sinks rely on. ``stream`` is the ordering and
    dedup key (a file's fingerprint, a journal, a namespace). ``timestamp_ns`` is UTC nanoseconds
    since the epoch: an int is cheaper to build and to compare than a ``datetime``.
    """

    source: str
    stream: str
    event_id: str
    timestamp_ns: int
    message: str
    fields: Mapping[str, Any]

    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(clamp_ns(self.timestamp_ns) / 1e9, tz=UTC)

    def to_document(self) -> dict[str, Any]:
        """The JSON shape written to sinks (ECS-like names users of Filebeat recognise).

        ``logwax`` is ours: a ``logwax`` object in the fields (``original_size`` after a cut)
        is merged into it; any other value there is kept as its JSON text in ``logwax_invalid``,
        so the field's mapping stays an object whatever a record carries.
        """
        meta = {"source": self.source, "stream": self.stream}
        document = {
            "@timestamp": iso_timestamp(self.timestamp_ns),
            "message": self.message,
            "event": {"id": self.event_id},
            **self.fields,
            "logwax": meta,
        }
        own = self.fields.get("logwax")
        if isinstance(own, Mapping):
            document["logwax"] = {**own, **meta}
        elif own is not None:
            document["logwax_invalid"] = json_text(own)
        document.pop(METADATA, None)
        return document

    def to_json_bytes(self) -> bytes:
        """``to_document`` as JSON, byte for byte.

        Most records carry none of the document's own keys (``_OWN_KEYS``) in their fields.
        Their JSON is put together from orjson's encodings of the parts, the fields' members
        between ``event`` and ``logwax`` where the dict display puts them. Encoding that dict
        whole cost twice as much: 1.8 against 0.9 µs per file line, shaped 5,000 at a time.
        Most of the difference was keeping thousands of orjson's results alive at once (0.95
        µs per result kept, 0.25 µs when each is freed at once, in batches of 5,000); the
        parts are freed as soon as they are joined. ``test_record_json`` holds the bytes to
        the dict's.
        """
        fields = self.fields
        if _OWN_KEYS.isdisjoint(fields):
            try:
                members = _dumps(fields)[1:-1]
                return b"".join(
                    (
                        b'{"@timestamp":"',
                        iso_timestamp(self.timestamp_ns).encode(),
                        b'","message":',
                        _dumps(self.message),
                        b',"event":{"id":',
                        _dumps(self.event_id),
                        b"}," if members else b"}",
                        members,
                        b',"logwax":{"source":',
                        _dumps(self.source),
                        b',"stream":',
                        _dumps(self.stream),
                        b"}}",
                    )
                )
            except TypeError:  # orjson refuses a part: the dict takes jsoncodec's fallbacks
                pass
        return self._document_json()

    def _document_json(self) -> bytes:
        """The document built as a dict and encoded whole: for records whose fields hold one
        of the document's own keys (the dict decides what wins) or what orjson refuses."""
        fields = self.fields
        if "logwax" in fields or METADATA in fields:
            return jsoncodec.dumps(self.to_document())
        document = {
            "@timestamp": iso_timestamp(self.timestamp_ns),
            "message": self.message,
            "event": {"id": self.event_id},
            **fields,
            "logwax": {"source": self.source, "stream": self.stream},
        }
        try:  # orjson straight away; what it refuses takes jsoncodec's fallbacks
            return orjson.dumps(document)
        except TypeError:
            return jsoncodec.dumps(document)


# The keys of a record's document besides its fields: a field of the same name is merged by
# the dict display, so such records take ``_document_json``.
_OWN_KEYS = frozenset({"@timestamp", "message", "event", "logwax", METADATA})
_dumps = orjson.dumps


def with_metadata(record: Record, **values: str) -> Record:
    """The record with ``values`` added under ``@metadata``: for sinks to read, never shipped.

    Beats' convention: a source may leave hints for a sink (an etcd target names its own Kafka
    topic as ``kafka_topic``); each sink's settings say which hint it follows.
    """
    given = record.fields.get(METADATA)
    merged = {**given, **values} if isinstance(given, Mapping) else values
    return record._replace(fields={**record.fields, METADATA: merged})


def metadata(record: Record, name: str) -> Any:
    """One ``@metadata`` hint of the record, or None."""
    given = record.fields.get(METADATA)
    return given.get(name) if isinstance(given, Mapping) else None


def with_tags(fields: dict[str, Any], *new: str) -> None:
    """Add tags to ``fields["tags"]``, whatever that held: tags must stay a list of strings."""
    old = fields.get("tags")
    if old is None:
        kept: list[str] = []
    elif isinstance(old, list):
        kept = [t if isinstance(t, str) else json_text(t) for t in old]
    elif isinstance(old, str):
        kept = [old]
    else:
        kept = [json_text(old)]
    fields["tags"] = list(dict.fromkeys([*kept, *new]))


def clean_text(text: str) -> str:
    """A str that encodes to UTF-8: lone surrogates (from JSON escapes) become escapes."""
    try:
        text.encode()
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()


def json_text(value: Any) -> str:
    """A value as JSON text, for keeping what does not fit a field's mapping as a string."""
    try:
        return jsoncodec.dumps(value, default=str).decode()
    except ValueError:
        return repr(type(value))


# What ``datetime`` can represent (years 1 to 9999, UTC): Elasticsearch's index name and the
# RFC 3339 text are both made through it, so a record's timestamp is kept inside this range.
MIN_NS = int(datetime(1, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
MAX_NS = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()) * 1_000_000_000


def in_range(timestamp_ns: int) -> bool:
    return MIN_NS <= timestamp_ns <= MAX_NS


def clamp_ns(timestamp_ns: int) -> int:
    return min(max(timestamp_ns, MIN_NS), MAX_NS)


@lru_cache(maxsize=4096)
def _second(second: int) -> str:
    # isoformat, not strftime: glibc's %Y writes year 1 as "1", which no parser reads back.
    return datetime.fromtimestamp(second, tz=UTC).replace(tzinfo=None).isoformat()


def iso_timestamp(timestamp_ns: int) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-23T07:22:07.123456+00:00``.

    Records of one batch mostly share their second, so the calendar part is cached: formatting a
    ``datetime`` per record cost about 1 µs, a tenth of what logwax spent per line. The lines of
    one file read share their whole timestamp (the read time, when a line has none of its own),
    so the last answer is kept too, as one tuple a thread replaces whole.
    """
    global _last
    last = _last
    if last[0] == timestamp_ns:
        return last[1]
    given = timestamp_ns
    if not MIN_NS <= timestamp_ns <= MAX_NS:  # inline: a call per record cost 0.1 µs
        timestamp_ns = clamp_ns(timestamp_ns)
    second, nanos = divmod(timestamp_ns, 1_000_000_000)
    millis, micros = divmod(nanos // 1000, 1000)
    # Two table lookups rather than a 06d format: 0.40 -> 0.28 µs.
    text = f"{_second(second)}.{_DIGITS[millis]}{_DIGITS[micros]}+00:00"
    _last = (given, text)
    return text


_last: tuple[int, str] = (-1 << 80, "")


_DIGITS = tuple(f"{n:03d}" for n in range(1000))
