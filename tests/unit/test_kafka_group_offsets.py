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

    def close(self) -> None:
        return


def test_a_fenced_commit_is_said_once_at_info_counted_and_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from confluent_kafka import KafkaError

    from logwax.connectors.kafka.group import KafkaGroupSource
    from logwax.connectors.kafka.source_config import KafkaSourceConfig
    from logwax.core.metrics import KAFKA_GROUP_COMMITS

    config = KafkaSourceConfig(
        bootstrap_servers="127.0.0.1:9",
        topics=["logs"],
        consumer_group="unit-fenced",
        consumer_options={"log_level": 0},  # no broker there: its connection failures unsaid
    )
    member = KafkaGroupSource(config, name="unit-fenced").build("step", 0, 1)
    real = member._consumer
    refusing = _RefusingConsumer(KafkaError.ILLEGAL_GENERATION)
    member._consumer = refusing  # type: ignore[assignment]
    try:
        member._tracker.assign([P0])
        member._tracker.read(P0, 7)
        delivery.confirmed([[_with_position(Record("k", "s", "i", 0, "m", {}), ("logs", 0, 7))]])
        fenced = KAFKA_GROUP_COMMITS.labels("unit-fenced", "fenced")
        before = fenced._value.get()
        with caplog.at_level("INFO", logger="logwax.connectors.kafka.group"):
            member._commit()
            member._commit()
        assert refusing.commits == 2 and fenced._value.get() == before + 2
        said = [r for r in caplog.records if "commit refused after a rebalance" in r.message]
        assert len(said) == 1 and said[0].levelname == "INFO"
        assert member._tracker.due() == {P0: 8}  # not marked committed: the next owner decides
    finally:
        member._tracker.revoke([P0])  # nothing left to commit to a broker that is not there
        member._consumer = real
        member.close()
