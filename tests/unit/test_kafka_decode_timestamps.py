"""The index flow's shortcut for logwax's own ``@timestamp`` form gives what the general parse
gives, for every value: the nanoseconds, or None where the general parse finds no time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from logwax.connectors.kafka.decode import _EPOCH, _MICROSECOND, parse_timestamp
from logwax.core.record import MAX_NS, MIN_NS, in_range, iso_timestamp


def general_parse(text: str) -> int | None:
    """``parse_timestamp``'s path for any other string, written out for comparison."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    nanos = (parsed - _EPOCH) // _MICROSECOND * 1000
    return nanos if in_range(nanos) else None


@given(st.integers(min_value=MIN_NS, max_value=MAX_NS))
def test_every_timestamp_logwax_writes_reads_back_to_its_microsecond(nanos: int) -> None:
    text = iso_timestamp(nanos)
    assert parse_timestamp(text) == nanos // 1000 * 1000 == general_parse(text)


@given(st.integers(min_value=MIN_NS, max_value=MAX_NS), st.data())
@example(0, None)
def test_a_changed_character_gives_what_the_general_parse_gives(nanos: int, data: object) -> None:
    text = iso_timestamp(nanos)
    if data is not None:
        at = data.draw(st.integers(0, len(text) - 1))  # type: ignore[attr-defined]
        char = data.draw(st.characters(codec="utf-8"))  # type: ignore[attr-defined]
        text = text[:at] + char + text[at + 1 :]
    assert parse_timestamp(text) == general_parse(text)


@given(st.text(max_size=40))
@example("2026-13-01T00:00:00.000000+00:00")
@example("2026-02-30T00:00:00.000000+00:00")
@example("2026-01-01 00:00:00.000000+00:00")
@example("2026-01-01T00:00:00.00000²+00:00")
@example("0000-01-01T00:00:00.000000+00:00")
def test_any_string_gives_what_the_general_parse_gives(text: str) -> None:
    try:
        int(text.strip())
    except ValueError:
        assert parse_timestamp(text) == general_parse(text)


@given(st.lists(st.sampled_from([0, -1, 1_790_000_000_123_456_789, MAX_NS + 7, MIN_NS - 7])))
def test_a_timestamp_written_again_is_the_same_text_whatever_came_between(
    order: list[int],
) -> None:
    """``iso_timestamp`` keeps its last answer: repeats, alternations and values it clamps
    must each still give their own text."""
    for nanos in order:
        clamped = min(max(nanos, MIN_NS), MAX_NS)
        moment = _EPOCH + timedelta(microseconds=clamped // 1000)
        expected = moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "+00:00"
        assert iso_timestamp(nanos) == expected
