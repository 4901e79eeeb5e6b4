"""The at-least-once Kafka sink names the record of a delivery report by its topic and value."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError

from logwax.connectors.kafka.outgoing import Outgoing
from logwax.connectors.kafka.sink import _named
from logwax.core.errors import DeliveryError
from logwax.core.record import Record


class _Report:
    def __init__(self, topic: str, value: bytes) -> None:
        self._topic, self._value = topic, value

    def topic(self) -> str:
        return self._topic

    def value(self) -> bytes:
        return self._value


def _item(topic: str, value: bytes) -> Outgoing:
    return Outgoing(Record("s", "st", value.decode(), 0, "m", {}), topic, value, None, [])


def test_a_refusal_names_its_record_and_equal_values_each_once() -> None:
    items = [_item("t", b"a"), _item("t", b"b"), _item("t", b"a"), _item("d", b"a")]
    error = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
    reports: list[Any] = [(_Report("t", b"a"), error), (_Report("t", b"a"), error)]
    named = _named(items, reports)
    assert sorted(id(item) for item, _ in named) == sorted([id(items[0]), id(items[2])])
    with pytest.raises(DeliveryError):
        _named(items, [(_Report("t", b"zz"), error)])
