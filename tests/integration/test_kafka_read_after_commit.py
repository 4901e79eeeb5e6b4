"""The tests' Kafka reader sees a transaction the moment ``commit_transaction`` has returned.

The sink-level exactly-once tests read their topics straight after the sink's last commit. The
broker answers the commit before its markers reach the partitions, so a ``read_committed`` read
in that gap found nothing of the transaction: records "missing" from a sink that had delivered
them (the exactly-once oversize test, one transaction over the topic and its dead letters,
failed that way on a loaded machine). Many rounds, because the gap is a few milliseconds wide:
without the wait in ``settled_ends`` about one round in four reads a stale end here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, Producer

from tests.integration.kafka_helpers import read_all, settled_ends

ROUNDS = 30


def test_a_transaction_over_two_topics_is_readable_as_soon_as_it_is_committed(
    kafka_config: dict[str, Any], new_topic: Callable[..., str]
) -> None:
    topic, dead = new_topic(1), new_topic(1)
    producer = Producer({**kafka_config, "transactional.id": f"read-after-commit-{topic}"})
    producer.init_transactions(30)
    reader = Consumer(
        {**kafka_config, "group.id": f"ends-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
    )
    stale = []
    try:
        for round_ in range(ROUNDS):
            producer.begin_transaction()
            for i in range(3):
                producer.produce(topic, f"{round_}-{i}".encode())
            producer.produce(dead, f"{round_}-dead".encode())
            producer.commit_transaction(30)
            # Each committed transaction ends with its marker: 3 + 1 and 1 + 1 offsets a round.
            main, letters = 4 * (round_ + 1), 2 * (round_ + 1)
            main_end = settled_ends(reader, topic, {0: main})[0][1]
            dead_end = settled_ends(reader, dead, {0: letters})[0][1]
            if (main_end, dead_end) != (main, letters):
                stale.append((round_, main_end, dead_end))
    finally:
        reader.close()
    assert stale == []
    assert len(read_all(kafka_config, topic)) == 3 * ROUNDS
    assert len(read_all(kafka_config, dead)) == ROUNDS
