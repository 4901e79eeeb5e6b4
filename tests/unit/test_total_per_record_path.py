"""Property test: no record content makes the per-record path raise.

Arbitrary bytes, headers and JSON documents (any value, any depth the parser accepts, odd
types under reserved names) go through each source's decoding, the transform rules, and the
serialisation a sink does; the assertion is that each gives a record or a document, never an
exception. The 100,000-deep document and the other cases the issue found are pinned as
examples so they run every time.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Message
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.connectors.elasticsearch.sink import _ElasticsearchSinkPartition
from logwax.connectors.files import formats
from logwax.connectors.files.tail import TailedFile
from logwax.connectors.journald import export as journald_export
from logwax.connectors.journald.entries import to_record as journald_record
from logwax.connectors.k8s_events.events import to_record as event_record
from logwax.connectors.kafka.decode import decode
from logwax.core import jsoncodec
from logwax.core.oversize import truncate_to_fit
from logwax.core.record import Record, iso_timestamp
from logwax.steps.transforms import Add, Drop, ParseJson, Rename, apply

RULES = [
    ParseJson(target="parsed"),
    ParseJson(target="logwax.x"),
    Rename(rename={"a.b": "tags", "message": "c", "@timestamp": "logwax"}),
    Drop(drop=["a", "tags.x", "logwax"]),
    Add(add={"tags": "t", "a.b.c": 1, "logwax": True}),
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
RESERVED = st.sampled_from(["@timestamp", "message", "logwax", "event", "tags", "kafka", "a"])
DOCUMENTS = st.dictionaries(RESERVED | st.text(max_size=8), JSON, max_size=6)
TIMESTAMPS = (
    st.integers()
    | st.floats()
    | st.datetimes().map(lambda d: d.isoformat())
    | st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1e400", "Z"])
)
DEEP = b"[" * 100_000 + b"]" * 100_000


def encode(document: Any) -> bytes:
    return json.dumps(document, allow_nan=True).encode()


def ship(record: Record) -> None:
    """What the sinks do with a record: encode it, cut it, name its timestamp."""
    record.to_json_bytes()
    iso_timestamp(record.timestamp_ns)
    record.timestamp()
    truncate_to_fit(record, 10**6, 100, lambda r: len(r.to_json_bytes()))
    for rule in RULES:
        apply([rule], record).to_json_bytes()
    apply(RULES, record).to_json_bytes()


def message(value: bytes | None, headers: list[tuple[str, bytes | None]]) -> Message:
    return Message(
        topic="t", partition=0, offset=7, value=value, headers=headers, timestamp=(1, 1_000)
    )


HEADERS = st.lists(
    st.tuples(st.sampled_from(["event_id", "source", "x"]), st.none() | st.binary(max_size=16)),
    max_size=3,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.binary(max_size=200) | DOCUMENTS.map(encode), headers=HEADERS)
@example(value=DEEP, headers=[("event_id", b"\xff\xfe")])
@example(value=encode({"@timestamp": 1764000000123, "message": "ms"}), headers=[])
@example(value=encode({"@timestamp": "0001-01-01T00:00:00+14:00"}), headers=[])
@example(value=encode({"logwax": "a string", "tags": 5}), headers=[])
@example(value=encode({"message": "[1,2]", "tags": {"x": 1}}), headers=[])
def test_kafka_decoding_and_rules_never_raise(
    value: bytes, headers: list[tuple[str, bytes | None]]
) -> None:
    ship(decode(message(value, headers)))


@settings(max_examples=100, deadline=None)
@given(document=DOCUMENTS, stamp=TIMESTAMPS)
def test_any_timestamp_value_decodes(document: dict[str, Any], stamp: Any) -> None:
    document["@timestamp"] = stamp
    ship(decode(message(encode(document), [])))


@settings(max_examples=100, deadline=None)
@given(text=st.text() | DOCUMENTS.map(lambda d: json.dumps(d)), offset=st.integers(0, 2**40))
@example(text=DEEP.decode(), offset=0)
def test_files_formats_never_raise(text: str, offset: int) -> None:
    for parse in (formats.parse_raw, formats.parse_json, formats.parse_docker, formats.parse_cri):
        entry = parse(offset, text)
        ship(Record("files", "s", "e", entry.timestamp_ns or 0, entry.text, entry.fields or {}))


@settings(max_examples=100, deadline=None)
@given(content=st.binary(max_size=3000), max_line=st.integers(1024, 2048))
@example(content=b"\xff\xfe\r\n" + b"x" * 5000 + b'\n{"log":null}\n', max_line=1024)
def test_file_bytes_never_raise(content: bytes, max_line: int) -> None:
    """Any bytes in a file: lines come out (cut at ``max_line_bytes``) and every format parses."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "app.log"
        path.write_bytes(content)
        tailed = TailedFile.open("f", path, 0, max_line)
        try:
            lines = tailed.read_lines(10_000)
        finally:
            tailed.close()
    assert all(len(line.text.encode()) <= max_line * 3 for line in lines)
    for line in lines:
        for parse in formats.PARSERS.values():
            entry = parse(line.offset, line.text)
            ship(Record("files", "s", "e", entry.timestamp_ns or 0, entry.text, entry.fields or {}))


EXPORT_VALUES = st.text() | st.binary(max_size=40)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_journalctl_export_output_of_any_bytes_never_raises(data: bytes) -> None:
    """Whatever journalctl writes, parsing gives entries and a consumed length, and each
    entry either gives a record or is refused with ValueError (counted and skipped)."""
    entries, used = journald_export.parse(data)
    assert 0 <= used <= len(data)
    for entry in entries:
        try:
            record = journald_record("journal", entry)
        except ValueError:
            assert not isinstance(entry.get("__CURSOR"), str)
            continue
        ship(record)


@settings(max_examples=100, deadline=None)
@given(
    entry=st.dictionaries(
        st.sampled_from(
            ["MESSAGE", "__CURSOR", "__REALTIME_TIMESTAMP", "_SYSTEMD_UNIT", "_BOOT_ID", "PRIORITY"]
        )
        | st.text(max_size=8),
        EXPORT_VALUES | st.lists(EXPORT_VALUES, min_size=2, max_size=3),
        max_size=6,
    )
)
def test_journald_entries_never_raise(entry: dict[str, Any]) -> None:
    """Entries as the export parser makes them (text, bytes, lists of repeated values): one with
    a text ``__CURSOR`` always gives a record, anything else is refused with ValueError."""
    has_cursor = isinstance(entry.get("__CURSOR"), str)
    try:
        record = journald_record("journal", entry)
    except ValueError:
        assert not has_cursor
        return
    ship(record)


@settings(max_examples=100, deadline=None)
@given(entry=st.dictionaries(st.text(max_size=8), JSON, max_size=6), cursor=st.text())
def test_any_journal_entry_with_a_cursor_gives_a_record(entry: dict[str, Any], cursor: str) -> None:
    entry["__CURSOR"] = cursor
    ship(journald_record("journal", entry))


@settings(max_examples=100, deadline=None)
@given(
    event=DOCUMENTS
    | st.dictionaries(
        st.sampled_from(
            [
                "metadata",
                "lastTimestamp",
                "eventTime",
                "count",
                "involvedObject",
                "message",
                "reason",
            ]
        ),
        JSON,
        max_size=7,
    )
)
def test_kubernetes_events_never_raise(event: dict[str, Any]) -> None:
    ship(event_record("events", event))


@settings(max_examples=100, deadline=None)
@given(timestamp_ns=st.integers())
def test_any_timestamp_names_an_elasticsearch_index(timestamp_ns: int) -> None:
    sink = object.__new__(_ElasticsearchSinkPartition)
    sink._config = ElasticsearchSinkConfig(hosts=["http://127.0.0.1:1"], index="logs-%Y.%m.%d")
    sink._index_of_second = sink._index_name
    assert sink._index_of(Record("s", "s", "e", timestamp_ns, "m", {})).startswith("logs-")


def test_deep_json_is_not_json_rather_than_a_recursion_error() -> None:
    with pytest.raises(ValueError):
        jsoncodec.loads(DEEP)
    assert decode(message(DEEP, [])).fields["tags"] == ["not_json"]
