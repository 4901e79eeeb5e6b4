"""The per-line NamedTuples built by ``new_tuple`` (``tuple.__new__``) get no defaults: each
must be built with every field, or a later read of the missing one fails far from here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from logwax.connectors.files.formats import parse_raw
from logwax.connectors.files.records import build_records
from logwax.connectors.files.tail import TailedFile
from logwax.connectors.journald.entries import to_record
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.outgoing import Shaper
from tests.unit.test_kafka_outgoing import _Limits


def complete(item: Any) -> bool:
    return len(item) == len(type(item)._fields)


def test_each_tuple_of_the_file_to_kafka_path_has_all_its_fields(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\ntwo\n")
    lines = TailedFile.open("fp", path, 0, 1024).read_lines(10)
    entries = [parse_raw(line.offset, line.text) for line in lines]
    records = build_records("src", "stream", 0, path, {}, entries)
    config = KafkaSinkConfig(bootstrap_servers="b:9092", topic="logs")
    shaped = Shaper(config, _Limits(1_000_000), "kafka").shape_many(records, "logs", None)  # type: ignore[arg-type]
    for built in (lines, entries, records, shaped):
        assert len(built) == 2 and all(complete(item) for item in built)
    assert lines[1].partial is False and shaped[0].reason is None


def test_a_journal_entry_becomes_a_complete_record() -> None:
    record = to_record("node", {"__CURSOR": "s=ab;i=1f;b=x", "MESSAGE": "hi", "_BOOT_ID": "b"})
    assert complete(record) and record.event_id == "ab:1f"
