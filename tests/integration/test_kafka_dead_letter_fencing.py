"""Two sink partitions share one dead-letter partition, and the run is killed when partition B
has a transaction open there and partition A has just committed a dead letter behind it.

On restart A reads back what it committed after its snapshot. ``read_committed`` stops at B's
open transaction, so unless B's producer is fenced first, A misses its own dead letter and
ships the record again. The zombies are made with real producers using the sink's transactional
ids, exactly as a SIGKILLed run leaves them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer

from logwax.connectors.kafka import clients
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.fencing import fence_earlier_runs, transactional_id
from logwax.connectors.kafka.outgoing import DEAD_LETTER_OF
from logwax.connectors.kafka.transactional import ExactlyOnceKafkaSink, partition_name
from logwax.core.record import Record
from tests.integration.kafka_helpers import read_all


def zombie(config: KafkaSinkConfig, prefix: str, part: int, event_id: str) -> Producer:
    """A killed run's producer of sink partition ``part``, one dead letter in an open
    transaction."""
    producer = Producer(
        clients.transactional_producer(
            config, transactional_id(prefix, config.topic, partition_name(part))
        )
    )
    producer.init_transactions(30)
    producer.begin_transaction()
    assert config.dead_letter_topic is not None
    producer.produce(
        config.dead_letter_topic,
        value=b"{}",
        partition=0,
        headers=[("event_id", event_id.encode()), (DEAD_LETTER_OF, f"{config.topic}/{part}")],
    )
    producer.flush(30)
    return producer


def test_a_dead_letter_behind_another_partitions_open_transaction_is_not_shipped_twice(
    kafka_config: dict[str, Any], new_topic: Callable[..., str]
) -> None:
    topic, dead = new_topic(2), new_topic(1)
    config = KafkaSinkConfig(
        bootstrap_servers=kafka_config["bootstrap.servers"],
        topic=topic,
        exactly_once=True,
        dead_letter_topic=dead,
    )
    prefix = f"test-{os.getpid()}-{topic}"
    open_in_b = zombie(config, prefix, 0, "b-open")
    committed_by_a = zombie(config, prefix, 1, "a-dead")
    committed_by_a.commit_transaction(30)
    del open_in_b  # killed: its transaction stays open until fenced

    sink = ExactlyOnceKafkaSink(config, prefix)
    fence_earlier_runs(config, prefix, sink.list_parts())
    part_a = sink.build_part("sink", partition_name(1), None)
    part_a.write_batch([[Record("t", "stream", "a-dead", 0, "the replay", {})]])
    part_a.snapshot()
    part_a.close()

    replayed = [m.value() for m in read_all(kafka_config, topic)]
    assert replayed == [], f"the replay of a committed dead letter shipped again: {replayed}"
    letters = [dict(m.headers() or [])["event_id"] for m in read_all(kafka_config, dead)]
    assert letters == [b"a-dead"], letters
