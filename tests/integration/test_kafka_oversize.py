"""Records at 0.99x, 1x, 1.01x and 10x the Kafka sink's limit, on a default topic and on one
whose max.message.bytes was lowered to 64 KiB, with both oversize policies, through both sinks
(at-least-once and exactly-once); and records the broker refuses although the sink thought
they fit (the topic's limit lowered after the sink started). Every record ends exactly once in
the topic or in the dead-letter topic, and the records around it are delivered."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.limits import PRODUCER_DEFAULT
from logwax.connectors.kafka.sink import KafkaSink
from logwax.connectors.kafka.transactional import ExactlyOnceKafkaSink, partition_name
from logwax.core.record import Record
from tests.integration.oversize_helpers import LOWERED, by_event_id, documents, lower_limit, sized

FACTORS = {"s099": 0.99, "s100": 1.0, "s101": 1.01, "s1000": 10.0}


def small(i: int) -> Record:
    return Record("test", "small", f"n{i}", 1_700_000_000_000_000_000, f"normal {i}", {})


def write(config: KafkaSinkConfig, batches: list[list[Record]]) -> None:
    """Through the sink as bytewax drives it: write the epoch's batches, then its snapshot."""
    if config.exactly_once:
        part: Any = ExactlyOnceKafkaSink(config, f"test-{os.getpid()}").build_part(
            "sink", partition_name(0), None
        )
        for batch in batches:
            part.write_batch([batch])
        part.snapshot()
    else:
        part = KafkaSink(config).build("sink", 0, 1)
        for batch in batches:
            part.write_batch([batch])
    part.close()


def sink_config(
    kafka_config: dict[str, Any], topic: str, dead: str, **extra: Any
) -> KafkaSinkConfig:
    return KafkaSinkConfig(
        bootstrap_servers=kafka_config["bootstrap.servers"],
        topic=topic,
        dead_letter_topic=dead,
        delivery_timeout="20s",
        **extra,
    )


@pytest.mark.parametrize("exactly_once", [False, True], ids=["at_least_once", "exactly_once"])
@pytest.mark.parametrize("policy", ["truncate", "dead_letter"])
@pytest.mark.parametrize("lowered", [False, True], ids=["default_topic", "topic_64k"])
def test_records_around_the_limit_land_once_in_the_topic_or_the_dead_letters(
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
    exactly_once: bool,
    policy: str,
    lowered: bool,
) -> None:
    topic, dead = new_topic(1), new_topic(1)
    if lowered:
        lower_limit(kafka_config, topic)
    limit = LOWERED if lowered else PRODUCER_DEFAULT
    records = []
    for i, (name, factor) in enumerate(FACTORS.items()):
        records += [small(i), sized(name, int(limit * factor))]
    records.append(small(99))
    config = sink_config(kafka_config, topic, dead, exactly_once=exactly_once, oversize=policy)

    write(config, [records[:4], records[4:]])

    shipped = by_event_id(documents(kafka_config, topic))
    dead_letters = by_event_id(documents(kafka_config, dead))
    assert set(shipped) | set(dead_letters) == {r.event_id for r in records}
    assert not set(shipped) & set(dead_letters)
    over = {"s101", "s1000"}
    if policy == "truncate":
        assert dead_letters == {}
        for name in over:
            doc = shipped[name]
            assert doc["tags"] == ["truncated"]
            assert doc["logwax"]["original_size"] == int(limit * FACTORS[name])
            assert doc["_wire"] <= limit and doc["message"].startswith("xxx")
    else:
        assert set(dead_letters) == over
        for name in over:
            letter = dead_letters[name]
            assert letter["reason"] == "oversize" and letter["topic"] == topic
            assert letter["size"] == int(limit * FACTORS[name])
            assert letter["logwax"] == {"source": "test", "stream": "big"}
    for name in ("s099", "s100"):
        assert "tags" not in shipped[name]
        assert len(shipped[name]["message"]) == len(sized(name, int(limit * FACTORS[name])).message)


@pytest.mark.parametrize("exactly_once", [False, True], ids=["at_least_once", "exactly_once"])
def test_a_record_the_broker_refuses_is_dead_lettered_and_the_batch_flows_on(
    kafka_config: dict[str, Any], new_topic: Callable[..., str], exactly_once: bool
) -> None:
    """The sink learnt the default limit at start; the topic's is lowered afterwards, so the
    broker itself answers MSG_SIZE_TOO_LARGE for the 200 kB record (inside the transaction for
    the exactly-once sink, which must abort, find the record and commit the rest with its dead
    letter)."""
    topic, dead = new_topic(1), new_topic(1)
    config = sink_config(
        kafka_config, topic, dead, exactly_once=exactly_once, linger="0s", compression="none"
    )
    if exactly_once:
        part: Any = ExactlyOnceKafkaSink(config, f"test-{os.getpid()}").build_part(
            "sink", partition_name(0), None
        )
    else:
        part = KafkaSink(config).build("sink", 0, 1)
    lower_limit(kafka_config, topic)
    batch = [small(i) for i in range(20)] + [sized("refused", 200_000)]
    batch += [small(i) for i in range(20, 40)]
    part.write_batch([batch])
    if exactly_once:
        part.snapshot()
    # The refusal made the sink read the topic's limit again: a large record after it is cut.
    part.write_batch([[sized("after", 200_000), small(40)]])
    if exactly_once:
        part.snapshot()
    part.close()

    shipped = by_event_id(documents(kafka_config, topic))
    dead_letters = by_event_id(documents(kafka_config, dead))
    assert set(shipped) == {f"n{i}" for i in range(41)} | {"after"}
    assert shipped["after"]["tags"] == ["truncated"] and shipped["after"]["_wire"] <= LOWERED
    assert set(dead_letters) == {"refused"}
    assert dead_letters["refused"]["reason"] == "MSG_SIZE_TOO_LARGE"
