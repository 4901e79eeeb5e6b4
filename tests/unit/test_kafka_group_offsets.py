"""What a consumer-group member may commit: never past a record the sink has not confirmed."""

from __future__ import annotations

import pytest

from logwax.connectors.kafka.group import POSITION, _with_position
from logwax.connectors.kafka.offsets import OffsetTracker
from logwax.core import delivery
from logwax.core.errors import ConfigError
from logwax.core.record import Record, metadata
from logwax.settings import parse_config

P0, P1 = ("logs", 0), ("logs", 1)


def tracker_with(*reads: tuple[tuple[str, int], int]) -> OffsetTracker:
    tracker = OffsetTracker()
    tracker.assign([P0, P1])
    for key, offset in reads:
        tracker.read(key, offset)
    return tracker


def test_the_commit_point_waits_for_the_lowest_unconfirmed_offset() -> None:
    tracker = tracker_with((P0, 10), (P0, 11), (P0, 12))
    tracker.delivered(P0, 11)
    tracker.delivered(P0, 12)  # delivered out of order: 10 is still in flight
    assert tracker.due() == {P0: 10}
    tracker.delivered(P0, 10)
    assert tracker.due() == {P0: 13}  # one past the last read, Kafka's convention


def test_nothing_is_due_before_a_read_and_after_a_commit() -> None:
    tracker = tracker_with()
    assert tracker.due() == {}
    tracker.read(P1, 0)
    tracker.delivered(P1, 0)
    assert tracker.due() == {P1: 1}
    tracker.committed({P1: 1})
    assert tracker.due() == {}
    assert tracker.in_flight() == 0


def test_partitions_are_independent_and_can_be_asked_for_alone() -> None:
    tracker = tracker_with((P0, 5), (P1, 7), (P1, 8))
    tracker.delivered(P1, 7)
    assert tracker.due() == {P0: 5, P1: 8}
    assert tracker.due([P1]) == {P1: 8}
    assert tracker.in_flight() == 2


def test_a_revoked_partition_is_forgotten_with_its_records_in_flight() -> None:
    tracker = tracker_with((P0, 1), (P1, 1))
    tracker.revoke([P0])
    tracker.delivered(P0, 1)  # a late confirmation of a record of the old owner: ignored
    tracker.read(P0, 2)  # read just before the revoke was served: not ours
    assert tracker.due() == {P1: 1}
    assert tracker.assigned() == [P1]
    assert tracker.in_flight() == 1


def test_a_partition_assigned_again_starts_afresh() -> None:
    tracker = tracker_with((P0, 1))
    tracker.revoke([P0])
    tracker.assign([P0])
    assert tracker.due() == {}
    tracker.read(P0, 40)
    tracker.delivered(P0, 40)
    assert tracker.due() == {P0: 41}


def test_lag_counts_from_the_commit_point() -> None:
    tracker = tracker_with((P0, 10), (P0, 11))
    tracker.delivered(P0, 10)
    assert tracker.behind(P0, 100) == 89
    assert tracker.behind(P1, 100) is None  # nothing read yet: unknown


def test_records_carry_their_position_to_the_delivery_listener() -> None:
    record = Record("k", "s", "id", 0, "m", {"kafka": {"offset": 3}})
    tagged = _with_position(record, ("logs", 1, 3))
    assert metadata(tagged, POSITION) == ("logs", 1, 3)
    assert "@metadata" not in tagged.to_document()  # a hint, never shipped
    frozen = Record("k", "s", "id", 0, "m", {"@metadata": {"kafka_topic": "t"}})
    assert metadata(_with_position(frozen, ("logs", 0, 1)), "kafka_topic") == "t"

    tracker = tracker_with((P1, 3))
    seen: list[Record] = []

    def listener(records: object) -> None:
        for r in records:  # type: ignore[attr-defined]
            seen.append(r)
            position = metadata(r, POSITION)
            tracker.delivered((position[0], position[1]), position[2])

    delivery.listen(listener)
    try:
        delivery.confirmed([[tagged]])
    finally:
        delivery.forget(listener)
    assert seen == [tagged] and tracker.due() == {P1: 4}


def _index(**kafka_input: object) -> dict[str, object]:
    return {
        "flow": "index",
        "kafka_input": {"bootstrap_servers": "k:9092", "topics": ["logs"], **kafka_input},
        "elasticsearch": {"hosts": ["http://es:9200"]},
    }


def test_the_group_mode_is_one_setting_and_writes_to_elasticsearch_only() -> None:
    config = parse_config(_index(consumer_group="logwax-index"), "test")
    assert config.kafka_input is not None and config.kafka_input.consumer_group == "logwax-index"
    both = {**_index(consumer_group="g"), "kafka": {"bootstrap_servers": "k", "topic": "t"}}
    with pytest.raises(ConfigError, match="consumer_group"):
        parse_config(both, "test")
    with pytest.raises(ConfigError):
        parse_config(_index(consumer_group="no spaces"), "test")


class _RefusingConsumer:
    """Answers every commit as a broker answers a member of an older group generation."""

    def __init__(self, code: int) -> None:
        self.code, self.commits = code, 0

    def commit(self, **_kwargs: object) -> None:
        from confluent_kafka import KafkaError, KafkaException

        self.commits += 1
        raise KafkaException(KafkaError(self.code))

    def get_watermark_offsets(self, *_args: object, **_kwargs: object) -> tuple[int, int]:
        return 0, 8

    def close(self) -> None:
        return


def test_a_fenced_commit_is_said_once_at_info_counted_and_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from confluent_kafka import KafkaError

    from logwax.core.metrics import KAFKA_GROUP_COMMITS

    member, refusing = _member_refused_with(KafkaError.ILLEGAL_GENERATION, "unit-fenced")
    try:
        fenced = KAFKA_GROUP_COMMITS.labels("unit-fenced", "fenced")
        before = fenced._value.get()
        with caplog.at_level("INFO", logger="logwax.connectors.kafka.group"):
            member._commit()  # type: ignore[attr-defined]
            member._commit()  # type: ignore[attr-defined]
        assert refusing.commits == 2 and fenced._value.get() == before + 2
        said = [r for r in caplog.records if "commit refused after a rebalance" in r.message]
        assert len(said) == 1 and said[0].levelname == "INFO"
        # not marked committed: the next owner decides
        assert member._tracker.due() == {P0: 8}  # type: ignore[attr-defined]
    finally:
        _leave(member)


def _member_refused_with(code: int, name: str) -> tuple[object, _RefusingConsumer]:
    """A group member (no broker behind it) whose consumer refuses every commit with ``code``,
    holding one confirmed record of partition 0 at offset 7."""
    from logwax.connectors.kafka.group import KafkaGroupSource
    from logwax.connectors.kafka.source_config import KafkaSourceConfig

    config = KafkaSourceConfig(
        bootstrap_servers="127.0.0.1:9",
        topics=["logs"],
        consumer_group=name,
        commit_interval=0,
        consumer_options={"log_level": 0},
    )
    member = KafkaGroupSource(config, name=name).build("step", 0, 1)
    member._real = member._consumer  # type: ignore[attr-defined]
    refusing = _RefusingConsumer(code)
    member._consumer = refusing  # type: ignore[assignment]
    member._tracker.assign([P0])
    member._tracker.read(P0, 7)
    delivery.confirmed([[_with_position(Record("k", "s", "i", 0, "m", {}), ("logs", 0, 7))]])
    return member, refusing


@pytest.mark.parametrize(
    ("code", "moves"),
    [("_TRANSPORT", False), ("ILLEGAL_GENERATION", True)],
    ids=["broker-unreachable", "fenced"],
)
def test_readiness_moves_only_when_the_commit_was_taken_or_the_partition_moved(
    code: str, moves: bool
) -> None:
    """A broker that stops taking commits must turn /readyz red: the clock /readyz watches moves
    only when a commit landed (or was refused only because the partition left us)."""
    from confluent_kafka import KafkaError

    from logwax.core import observability

    member, refusing = _member_refused_with(getattr(KafkaError, code), f"unit-ready-{moves}")
    try:
        observability._last_snapshot = 1.0  # long ago
        member._next_commit = 0.0  # type: ignore[attr-defined]
        member._tick()  # type: ignore[attr-defined]
        assert refusing.commits == 1
        assert (observability._last_snapshot > 1.0) is moves
        stalled = observability.readiness(10.0)
        assert bool(stalled) is not moves, stalled
    finally:
        observability.snapshot_taken()
        _leave(member)


def _leave(member: object) -> None:
    member._tracker.revoke([P0])  # type: ignore[attr-defined]  # nothing left to commit
    member._consumer = member._real  # type: ignore[attr-defined]
    member.close()  # type: ignore[attr-defined]


def test_a_failing_delivery_listener_is_counted_said_once_and_does_not_fail_the_sink(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from logwax.core.metrics import DELIVERY_LISTENER_ERRORS

    seen: list[int] = []

    def broken(records: object) -> None:
        raise RuntimeError("listener bug")

    def working(records: object) -> None:
        seen.append(len(list(records)))  # type: ignore[call-overload]

    before = DELIVERY_LISTENER_ERRORS._value.get()
    delivery.listen(broken)
    delivery.listen(working)
    try:
        with caplog.at_level("ERROR", logger="logwax.core.delivery"):
            delivery.confirmed([[Record("k", "s", "i", 0, "m", {})]] * 3)
    finally:
        delivery.forget(broken)
        delivery.forget(working)
    assert DELIVERY_LISTENER_ERRORS._value.get() == before + 3
    said = [r for r in caplog.records if "delivery listener" in r.message]
    assert len(said) == 1 and said[0].exc_info is not None
    assert seen == [1, 1, 1]  # the other listeners still hear every batch
