"""The Kafka record shaping's written-out fast paths give what the general code gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.limits import record_size
from logwax.connectors.kafka.outgoing import Shaper
from logwax.core import jsoncodec
from logwax.core.record import MAX_NS, MIN_NS, Record, clamp_ns, iso_timestamp


class _Limits:
    def __init__(self, limit: int) -> None:
        self.limit = limit

    def of(self, topic: str) -> int:
        return self.limit if topic == "t" else 1_000_000

    def describe(self, topic: str) -> str:
        return f"{self.limit} bytes"


FIELDS: list[dict[str, Any]] = [
    {},
    {"log": {"file": {"path": "/var/log/a.log"}, "offset": 7}},
    {"journald": {"_SYSTEMD_UNIT": "a.service"}, "journald_cursor": "s=1;i=2"},
    {"message": "overridden", "event": {"kind": "x"}, "@timestamp": "kept first"},
    {"logwax": {"original_size": 5}, "tags": ["cut"]},
    {"logwax": "not an object"},
    {"@metadata": {"kafka_topic": "other"}, "n": 1},
    {1: "a key that is not a string"},
]


@pytest.mark.parametrize("fields", FIELDS)
def test_json_bytes_are_the_documents_json(fields: dict[str, Any]) -> None:
    record = Record("src", "stream-1", "id:1", 1_795_886_865_123_456_789, 'héllo "x"', fields)
    assert record.to_json_bytes() == jsoncodec.dumps(record.to_document())


@pytest.mark.parametrize(
    "ns", [0, -1, 1_795_886_865_000_000_999, MIN_NS - 5, MAX_NS + 10**12, MIN_NS, MAX_NS]
)
def test_iso_timestamp_is_rfc3339_with_microseconds(ns: int) -> None:
    second, nanos = divmod(clamp_ns(ns), 1_000_000_000)
    calendar = datetime.fromtimestamp(second, tz=UTC).replace(tzinfo=None).isoformat()
    assert iso_timestamp(ns) == f"{calendar}.{nanos // 1000:06d}+00:00"


@pytest.mark.parametrize("key", ["stream", "event_id", "none"])
def test_shaped_size_is_record_size(key: str) -> None:
    record = Record("sörce", "stream\udc80", "id\ud800", 0, "m" * 50, {"a": 1})
    config = KafkaSinkConfig(bootstrap_servers="127.0.0.1:9", topic="t", key=key)
    shaped = Shaper(config, _Limits(10_000), "kafka").shape(record, "t")  # type: ignore[arg-type]
    size = record_size(shaped.value, shaped.key, shaped.headers)
    fits = Shaper(config, _Limits(size), "kafka").shape(record, "t")  # type: ignore[arg-type]
    assert fits.reason is None and fits.value == shaped.value
    config = config.model_copy(update={"dead_letter_topic": "dead", "oversize": "dead_letter"})
    over = Shaper(config, _Limits(size - 1), "kafka").shape(record, "t")  # type: ignore[arg-type]
    assert over.topic == "dead"


@pytest.mark.parametrize("key", ["stream", "event_id", "none"])
@pytest.mark.parametrize("hint", ["kafka_topic", None])
def test_shaping_a_batch_is_shaping_each_record(key: str, hint: str | None) -> None:
    config = KafkaSinkConfig(
        bootstrap_servers="127.0.0.1:9",
        topic="t",
        key=key,  # type: ignore[arg-type]
        dead_letter_topic="dead",
        oversize="dead_letter",
    )
    records = [
        Record("src", f"stream-{i % 2}", f"id:{i}", i, "m" * (i * 40), fields)
        for i, fields in enumerate([*FIELDS, {"x": 2**70}, {"bad": float("nan")}])
    ]
    records.append(Record("sörce", "s\udc80", "id\ud800", 0, "\ud800", {}))
    one = Shaper(config, _Limits(300), "kafka")  # type: ignore[arg-type]
    expected = [
        one.shape(r, (hint and r.fields.get("@metadata", {}).get(hint)) or "t") for r in records
    ]
    many = Shaper(config, _Limits(300), "kafka").shape_many(records, "t", hint)  # type: ignore[arg-type]
    assert many == expected
    assert {o.topic for o in many} >= ({"t", "dead", "other"} if hint else {"t", "dead"})
