"""Property test: a record's JSON, put together from parts, is the JSON of its document dict.

``Record.to_json_bytes`` splices orjson's encodings of the parts for records whose fields hold
none of the document's own keys. Random fields (any JSON value, keys that are the document's own,
keys that are not strings, integers beyond 64 bits, lone surrogates) and random texts must give
exactly what encoding ``to_document()`` gives, byte for byte, whichever path was taken.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from logwax.core import jsoncodec
from logwax.core.record import Record
from tests.unit.test_total_per_record_path import JSON

OWN = st.sampled_from(["@timestamp", "message", "event", "logwax", "@metadata", "log", "tags"])
KEYS = OWN | st.text(max_size=8) | st.integers(min_value=-5, max_value=5)
FIELDS = st.dictionaries(KEYS, JSON, max_size=5)
TEXT = st.text(max_size=30) | st.sampled_from(["\ud800", 'q"uote\\', "\x00\x1f", "é€😀"])
STAMPS = st.integers(min_value=-(2**70), max_value=2**70)  # past what datetime or i64 hold
RECORDS = st.builds(
    Record,
    source=TEXT,
    stream=TEXT,
    event_id=TEXT,
    timestamp_ns=STAMPS,
    message=TEXT,
    fields=FIELDS,
)


@settings(max_examples=400, deadline=None)
@given(record=RECORDS)
@example(Record("s", "st", "id", 0, "m", {}))
@example(Record("s", "st", "id", 1, "m", {"log": {"file": {"path": "/a"}, "offset": 0}}))
@example(Record("s", "st", "id", 1, "m", {"n": 2**64}))
@example(Record("s", "st", "id", 1, "m", {"message": "the field wins", "event": 1}))
@example(Record("s\udc80", "st", "id", 1, "m", {"a": 1}))
def test_record_json_is_its_documents_json(record: Record) -> None:
    assert record.to_json_bytes() == jsoncodec.dumps(record.to_document())
