"""The size rules without servers: the cut, the settings that must go together, ES byte units."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.connectors.elasticsearch.limits import es_bytes
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.limits import BATCH_OVERHEAD, SizeLimits, record_size
from logwax.core.oversize import truncate_to_fit
from logwax.core.record import Record


def size_of(record: Record) -> int:
    return len(record.to_json_bytes())


@pytest.mark.parametrize("text", ["a" * 5000, "é" * 5000, "\x01" * 5000, "😀" * 2000])
def test_the_cut_fits_keeps_fields_and_says_what_it_did(text: str) -> None:
    record = Record("s", "st", "e", 0, text, {"keep": {"me": 1}, "tags": ["x"]})
    size = size_of(record)
    cut = truncate_to_fit(record, size, 1000, size_of)
    assert cut is not None and size_of(cut) <= 1000
    assert cut.fields["keep"] == {"me": 1} and cut.fields["tags"] == ["x", "truncated"]
    assert cut.fields["logwax"] == {"original_size": size}
    assert text.startswith(cut.message) and cut.message


def test_a_field_longer_than_the_message_is_the_one_cut() -> None:
    record = Record("s", "st", "e", 0, "short message", {"a": {"big": ["f" * 5000]}, "b": "k"})
    cut = truncate_to_fit(record, size_of(record), 1000, size_of)
    assert cut is not None and size_of(cut) <= 1000
    assert cut.message == "short message" and cut.fields["b"] == "k"
    assert cut.fields["a"]["big"][0].startswith("fff") and "truncated" in cut.fields["tags"]
    assert record.fields["a"]["big"][0] == "f" * 5000  # the original is not changed


def test_a_record_of_many_small_fields_cannot_be_cut() -> None:
    record = Record("s", "st", "e", 0, "m", {f"k{i}": i for i in range(500)})
    assert truncate_to_fit(record, size_of(record), 1000, size_of) is None


def test_dead_letter_policy_needs_a_destination() -> None:
    with pytest.raises(ValidationError, match="dead_letter_topic"):
        KafkaSinkConfig(bootstrap_servers="b:9092", topic="t", oversize="dead_letter")
    with pytest.raises(ValidationError, match="differ"):
        KafkaSinkConfig(bootstrap_servers="b:9092", topic="t", dead_letter_topic="t")
    with pytest.raises(ValidationError, match="dead_letter_index"):
        ElasticsearchSinkConfig(hosts=["http://h"], dead_letter_index=None, oversize="dead_letter")


def test_record_size_counts_key_headers_and_framing() -> None:
    assert record_size(b"v" * 10, b"k", [("event_id", b"e1")]) == BATCH_OVERHEAD + 11 + 8 + 2 + 10


def test_batches_never_exceed_the_smallest_topic_limit() -> None:
    limits = object.__new__(SizeLimits)
    limits.producer, limits._topics = 1_000_000, {"t": 65536, "dead": 1_048_588}
    assert limits.batch_size(None) == 65536 - BATCH_OVERHEAD
    assert limits.batch_size(16384) == 16384
    assert limits.of("t") == 65536 and limits.of("dead") == 1_000_000


@pytest.mark.parametrize(
    ("text", "value"), [("100mb", 100 << 20), ("1gb", 1 << 30), ("512kb", 512 << 10), ("7", 7)]
)
def test_elasticsearch_byte_units_are_binary(text: str, value: int) -> None:
    assert es_bytes(text) == value
