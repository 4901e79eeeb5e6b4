"""The exactly-once epoch's refusal rounds, on a stand-in producer (the real broker's refusals
are in tests/integration/test_kafka_oversize.py): a kept epoch replaces the refused record by
its dead letter in the same transaction; an epoch too large to keep stops with one clear error
instead of committing what it could not replay."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from logwax.connectors.kafka import epoch
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.outgoing import Outgoing, Shaper
from logwax.core.errors import DeliveryError
from logwax.core.record import Record


class _Limits:
    producer = 1_000_000

    def of(self, topic: str) -> int:
        return 1_000_000

    def refresh(self, topic: str) -> None:
        pass

    def describe(self, topic: str) -> str:
        return "1000000 bytes"


class _Message:
    def __init__(self, topic: str, offset: int, value: bytes) -> None:
        self._topic, self._offset, self._value = topic, offset, value

    def topic(self) -> str:
        return self._topic

    def value(self) -> bytes:
        return self._value

    def offset(self) -> int:
        return self._offset


class _Producer:
    """Refuses every produce of a value equal to ``poison`` with MSG_SIZE_TOO_LARGE on delivery;
    ``committed`` holds what each committed transaction held."""

    def __init__(self, poison: bytes) -> None:
        self.poison, self.pending, self.open = poison, [], []  # type: ignore[var-annotated]
        self.committed: list[list[tuple[str, bytes]]] = []
        self.offset = 0

    def begin_transaction(self) -> None:
        self.open = []

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        partition: int = -1,
        callback: Any = None,
        on_delivery: Any = None,
        timestamp: int = 0,
        headers: Any = None,
    ) -> None:
        """confluent-kafka's C signature, which the sinks call by position."""
        self.open.append((topic, value))
        self.pending.append((topic, value, callback or on_delivery))

    def poll(self, _timeout: float = 0) -> int:
        return self.flush(0)

    def flush(self, _timeout: float = 0) -> int:
        for topic, value, report in self.pending:
            if report is None:
                continue
            if value == self.poison:  # as librdkafka: the report carries the payload
                report(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), _Message(topic, -1, value))
            else:
                self.offset += 1
                report(None, _Message(topic, self.offset, value))
        self.pending = []
        return 0

    def commit_transaction(self, _timeout: float = 0) -> None:
        self.committed.append(self.open)

    def abort_transaction(self, _timeout: float = 0) -> None:
        self.open = []


def _epoch(producer: _Producer) -> tuple[epoch.SinkTransaction, Shaper]:
    config = KafkaSinkConfig(
        bootstrap_servers="b:9092", topic="logs", exactly_once=True, dead_letter_topic="dead"
    )
    shaper = Shaper(config, _Limits(), "kafka")  # type: ignore[arg-type]
    return epoch.SinkTransaction(producer, config, "kafka", shaper, 0, 0), shaper  # type: ignore[arg-type]


def _items(shaper: Shaper, count: int) -> list[Outgoing]:
    records = [Record("s", "st", f"id-{i}", 0, f"line {i}", {}) for i in range(count)]
    return [shaper.shape(r, "logs") for r in records]


class _AbortableProducer(_Producer):
    """As librdkafka: once the poison is sent, the transaction is in its abortable state at
    once, so every later ``produce`` raises ``_STATE`` before the poison's report is served."""

    def __init__(self, poison: bytes) -> None:
        super().__init__(poison)
        self.abortable = False

    def produce(self, topic: str, value: bytes, *args: Any) -> None:
        if self.abortable:
            raise KafkaException(KafkaError(KafkaError._STATE, "Erroneous state"))
        super().produce(topic, value, *args)
        self.abortable = value == self.poison

    def abort_transaction(self, _timeout: float = 0) -> None:
        super().abort_transaction()
        self.abortable = False


@pytest.mark.parametrize("producer_type", [_Producer, _AbortableProducer])
def test_a_refused_record_is_dead_lettered_in_the_same_transaction(
    producer_type: type[_Producer],
) -> None:
    """With ``_AbortableProducer``, the race seen on a loaded machine: the broker refused
    record 2 before the loop had sent 3 and 4, whose ``produce`` then raised ``_STATE``; that
    stopped the flow instead of dead-lettering record 2."""
    producer = producer_type(poison=b"")
    transaction, shaper = _epoch(producer)
    items = _items(shaper, 5)
    producer.poison = items[2].value
    transaction.write(items)
    written, _dead_letters = transaction.commit()
    assert written == 4
    [committed] = producer.committed
    assert sorted(v for t, v in committed if t == "logs") == sorted(
        i.value for n, i in enumerate(items) if n != 2
    )
    assert [t for t, _ in committed].count("dead") == 1


def test_records_refused_with_the_same_value_are_each_dead_lettered_once() -> None:
    """A report names its record by its value; two equal records refused are two suspects,
    and each produced alone must be the one its report names."""
    producer = _Producer(poison=b"")
    transaction, shaper = _epoch(producer)
    items = _items(shaper, 5)
    items[3] = items[1]
    producer.poison = items[1].value
    transaction.write(items)
    written, dead_letters = transaction.commit()
    assert (written, dead_letters) == (3, 2)
    [committed] = producer.committed
    assert sorted(v for t, v in committed if t == "logs") == sorted(
        items[n].value for n in (0, 2, 4)
    )
    assert [t for t, _ in committed].count("dead") == 2


def test_a_refusal_in_an_epoch_too_large_to_keep_stops_instead_of_committing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(epoch, "MAX_KEPT_BYTES", 100)
    producer = _Producer(poison=b"")
    transaction, shaper = _epoch(producer)
    items = _items(shaper, 5)
    producer.poison = items[2].value
    transaction.write(items)
    with pytest.raises(DeliveryError, match="too large to replay"):
        transaction.commit()
    assert producer.committed == []


def test_an_erroneous_state_without_a_refusal_still_stops_the_flow() -> None:
    producer = _AbortableProducer(poison=b"")
    transaction, shaper = _epoch(producer)
    producer.abortable = True  # not caused by any record of this transaction
    transaction.write(_items(shaper, 3))
    with pytest.raises(DeliveryError, match="Erroneous state"):
        transaction.commit()
    assert producer.committed == []
