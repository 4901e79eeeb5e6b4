"""The compiled core (``native/``) gives what the Python path gives, byte for byte.

Random records (the document's own keys in the fields, keys that are not strings, integers past
64 bits, NaN, lone surrogates, control characters, timestamps past year 9999) are shaped for
Kafka with and without the core; random chunks of a file (other scripts, invalid UTF-8, CR,
overlong lines, no newline) are cut into records by the core and by the Python cut. Where the
core answers, it must answer the same; and for plain input it must answer, or the equality
would hold by the core doing nothing.

The core is built by ``make`` (it needs cargo). Without it these tests fail, unless
``LOGWAX_NATIVE=0`` says the Python path was chosen.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from logwax.connectors.files import records as file_records
from logwax.connectors.files.formats import parse_raw
from logwax.connectors.files.records import build_records, plain_builder
from logwax.connectors.files.tail import TailedFile
from logwax.connectors.journald.reader import JournalctlProcess
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.outgoing import Outgoing, Shaper
from logwax.core import native
from logwax.core.record import Record
from tests.unit.test_kafka_outgoing import _Limits
from tests.unit.test_record_json import RECORDS
from tests.unit.test_tail_cut import CHUNKS

if os.environ.get("LOGWAX_NATIVE") == "0":
    pytest.skip("LOGWAX_NATIVE=0: the Python path was chosen", allow_module_level=True)
CORE = native.load()
if CORE is None:
    raise RuntimeError("logwax-native is not installed: run make (it needs cargo)")

READ_NS = 1_764_400_000_123_456_789


def _shaped(core: ModuleType | None, records: list[Record], key: str, limit: int, hint: Any) -> Any:
    saved, native.CORE = native.CORE, core
    try:
        config = KafkaSinkConfig(
            bootstrap_servers="127.0.0.1:9",
            topic="t",
            key=key,
            dead_letter_topic="dead",
            oversize="truncate",
        )
        return Shaper(config, _Limits(limit), "kafka").shape_many(records, "t", hint)  # type: ignore[arg-type]
    finally:
        native.CORE = saved


RECORD_LISTS = st.lists(RECORDS, max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    records=RECORD_LISTS,
    key=st.sampled_from(["stream", "event_id", "none"]),
    limit=st.integers(min_value=150, max_value=2_000),
    hint=st.sampled_from([None, "kafka_topic"]),
)
@example(
    records=[Record("s", "st", "id", 1, "m", {"@metadata": {"kafka_topic": "other"}})],
    key="stream",
    limit=1000,
    hint="kafka_topic",
)
@example(records=[Record("s", "st", "id", 1, "m" * 400, {})], key="none", limit=300, hint=None)
def test_shaping_is_the_python_shaping(
    records: list[Record], key: str, limit: int, hint: str | None
) -> None:
    assert _shaped(CORE, records, key, limit, hint) == _shaped(None, records, key, limit, hint)


def test_the_core_shapes_plain_records_itself() -> None:
    """No record of a plain file is left to Python, so the test above compares real work."""
    assert CORE is not None
    fields = {"log": {"file": {"path": "/a é"}, "offset": 7}, "tags": ["x"], "n": -(2**63)}
    records = [
        Record("f", "s", f"s:{i}", i * 999_999, f'line "{i}"\t\x01', fields) for i in range(9)
    ]
    records.append(Record("f", "s", "s:x", -5 * 10**18, "year 1811", {"b": None, "c": False}))
    made, misses = CORE.shape(records, "t", 10_000, 60, 1, Outgoing)
    assert misses == []
    assert [m[2] for m in made] == [r.to_json_bytes() for r in records]


@settings(max_examples=600, deadline=None)
@given(
    chunk=CHUNKS,
    offset=st.integers(min_value=0, max_value=10**6),
    most=st.integers(min_value=1, max_value=30),
    room=st.integers(min_value=1, max_value=12),
    generation=st.integers(min_value=0, max_value=2),
)
@example(chunk=b"a\nbc\n", offset=0, most=10, room=5, generation=0)
@example(chunk=b"a\nbc\nde", offset=3, most=10, room=1, generation=1)
@example(chunk=b"ab\n" + b"x" * 40, offset=0, most=10, room=5, generation=0)
@example(chunk=b"a\r\nb\rc\r\n\r\n", offset=7, most=4, room=5, generation=0)
def test_file_records_are_the_python_records(
    chunk: bytes, offset: int, most: int, room: int, generation: int
) -> None:
    path = Path("/var/log/é.log")
    build = plain_builder("files", "fp", generation, path, most)
    assert build is not None
    made = build(chunk, offset, room)
    if made is None:
        return  # the Python cut reads these bytes (test_tail_cut holds its two paths equal)
    records, consumed = made
    tailed = TailedFile("fp", path, offset, None, 1, most)  # type: ignore[arg-type]
    lines: list[Any] = []
    assert tailed._cut_general(chunk, lines, room) == consumed
    assert not any(line.truncated or line.invalid_utf8 for line in lines)
    entries = [parse_raw(line.offset, line.text) for line in lines]
    expected = build_records("files", "fp", generation, path, {}, entries)
    stamp = records[0].timestamp_ns if records else 0
    assert [r._replace(timestamp_ns=0) for r in records] == [
        r._replace(timestamp_ns=0) for r in expected
    ]
    assert all(r.timestamp_ns == stamp for r in records)
    assert (tailed.offset, tailed._skip_from) == (offset + consumed, None)


def test_plain_chunks_are_cut_by_the_core() -> None:
    build = plain_builder("files", "fp", 0, Path("a.log"), 100)
    assert build is not None
    made = build('é\n"q"\\\t\nrest'.encode(), 10, 5)
    assert made is not None
    records, consumed = made
    assert [(r.event_id, r.message, r.fields["log"]["offset"]) for r in records] == [
        ("fp:10", "é", 10),
        ("fp:13", '"q"\\\t', 13),
    ]
    assert consumed == 9  # 2 + 1 and 5 + 1 bytes


def test_crlf_lines_are_cut_by_the_core() -> None:
    """A line's final CR is dropped (as ``TailedFile._emit`` drops it), one inside it kept:
    a file written with Windows line ends is read once, by the core."""
    build = plain_builder("files", "fp", 0, Path("a.log"), 100)
    assert build is not None
    made = build(b"one\r\ntwo\rthree\r\n\r\nrest", 0, 5)
    assert made is not None
    records, consumed = made
    assert [(r.event_id, r.message) for r in records] == [
        ("fp:0", "one"),
        ("fp:5", "two\rthree"),
        ("fp:16", ""),
    ]
    assert consumed == 18


def test_reading_a_file_through_the_core_gives_the_lines_of_read_lines(tmp_path: Path) -> None:
    """Across chunk boundaries, with a hostile chunk in the middle the core leaves alone."""
    path = tmp_path / "a.log"
    lines = [f"line {i} " + "y" * (i % 300) for i in range(3_000)]
    lines[1_500] = "bad \xff here"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\nlast, unfinished")
    core_side = TailedFile.open("fp", path, 0, 1_000)
    python_side = TailedFile.open("fp", path, 0, 1_000)
    build = plain_builder("files", "fp", 0, path, 1_000)
    assert build is not None
    texts: list[str] = []
    rounds = 0
    while rounds < 100:
        rounds += 1
        got = core_side.read_plain(700, build)
        if not got:
            got_lines = core_side.read_lines(700)
            if not got_lines:
                break
            texts.extend(line.text for line in got_lines)
        texts.extend(r.message for r in got)
    expected = [line.text for line in python_side.read_lines(10_000)]
    assert texts == expected
    assert len(texts) == 3_000
    assert core_side.offset == python_side.offset
    core_side.close()
    python_side.close()


def test_without_the_core_the_python_path_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "CORE", None)
    assert plain_builder("files", "fp", 0, Path("a.log"), 10) is None
    assert native.describe().startswith("Python")
    assert file_records.native.CORE is None


NAMES = st.sampled_from(
    [
        "__CURSOR",
        "MESSAGE",
        "__REALTIME_TIMESTAMP",
        "__MONOTONIC_TIMESTAMP",
        "__SEQNUM",
        "_BOOT_ID",
        "_SYSTEMD_UNIT",
        "SYSLOG_IDENTIFIER",
        "PRIORITY",
        "",
        "É",
    ]
)
VALUES = st.sampled_from(
    [
        b"",
        b"s=ab;i=1f;b=x",
        b"s=ab",
        b"i=1;s=ab",
        b"1700000000000000",
        b"99999999999999999999",
        b" 12",
        b"app.service",
        b"x=y",
        b"\xc3\xa9\t\x01",
        b"\xff",
        b"a\nb",
    ]
)
FIELD = st.tuples(NAMES, VALUES, st.booleans())


def _export(entries: list[list[tuple[str, bytes, bool]]]) -> bytes:
    """journalctl's export format: ``NAME=value`` lines, or the name, a newline, the length as
    64-bit little endian, the bytes and a newline; a blank line after each entry."""
    out = bytearray()
    for entry in entries:
        for name, value, framed in entry:
            if framed or b"\n" in value:
                out += name.encode() + b"\n" + len(value).to_bytes(8, "little") + value + b"\n"
            else:
                out += name.encode() + b"=" + value + b"\n"
        out += b"\n"
    return bytes(out)


def _journal_records(core: ModuleType | None, data: bytes) -> Any:
    reader = JournalctlProcess.__new__(JournalctlProcess)
    reader._source = "node"
    saved, native.CORE = native.CORE, core
    try:
        return reader._parse(data)
    finally:
        native.CORE = saved


@settings(max_examples=400, deadline=None)
@given(
    entries=st.lists(st.lists(FIELD, max_size=7), max_size=5),
    cut=st.integers(min_value=0, max_value=40),
)
@example(entries=[[("__CURSOR", b"s=ab;i=1f;b=x", False), ("MESSAGE", b"hi", False)]], cut=0)
def test_journal_records_are_the_python_records(
    entries: list[list[tuple[str, bytes, bool]]], cut: int
) -> None:
    data = _export(entries)
    data = data[: max(0, len(data) - cut)]  # journalctl's output read mid-entry
    assert _journal_records(CORE, data) == _journal_records(None, data)


def test_plain_journal_entries_are_read_by_the_core() -> None:
    assert CORE is not None
    data = _export(
        [
            [
                ("__CURSOR", f"s=ab;i={i:x};b=b1".encode(), False),
                ("__REALTIME_TIMESTAMP", b"1700000000000001", False),
                ("_BOOT_ID", b"b1", False),
                ("SYSLOG_IDENTIFIER", b"sshd", False),
                ("MESSAGE", 'é "quoted"'.encode(), False),
            ]
            for i in range(20)
        ]
    )
    records, end = CORE.journal_records(Record, data, 0, "node")
    assert end == len(data)
    assert [r.event_id for r in records] == [f"ab:{i:x}" for i in range(20)]
    assert records == _journal_records(None, data)[0]
    assert records[0].stream == "b1/sshd"
    assert records[0].timestamp_ns == 1_700_000_000_000_001_000
