"""Reading a whole topic back the way a downstream consumer would."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

# How long a read waits for transactions already ended to become readable (see ``settled_ends``).
SETTLE_SECONDS = 5.0
# How often the wait looks whether a producer is still writing (then it does not wait).
WRITING_CHECK_SECONDS = 0.25


def _ends(consumer: Consumer, topic: str, partitions: list[int]) -> dict[int, tuple[int, int]]:
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions
    }


def written_ends(kafka_config: dict[str, Any], topic: str, partitions: list[int]) -> dict[int, int]:
    """Each partition's end including records of transactions still open or undecided."""
    uncommitted = Consumer(
        {
            **kafka_config,
            "group.id": f"ends-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_uncommitted",  # librdkafka's default is read_committed
        }
    )
    try:
        return {p: high for p, (_, high) in _ends(uncommitted, topic, partitions).items()}
    finally:
        uncommitted.close()


def settled_ends(
    consumer: Consumer, topic: str, written: dict[int, int], kafka_config: dict[str, Any]
) -> dict[int, tuple[int, int]]:
    """The ``read_committed`` ``consumer``'s ends once the records up to ``written`` are decided.

    A producer's ``commit_transaction`` (and ``abort_transaction``) returns once the
    coordinator has logged its decision; the markers that make the records readable reach the
    partitions a moment later (10 ms typically, 230 ms at worst in 24 commits measured on the
    two-core test machine, longer for a broker's first transactions). Until then the
    partition's last stable offset stays before the transaction, so a read straight after a
    commit sees none of it. This waits, at most ``SETTLE_SECONDS``, until each partition's last
    stable offset reaches ``written``. While a producer is still writing (a running flow's
    topic, polled by a test's wait loop) some transaction is always open: the written end
    moves, and the read returns at once with what is decided, as it did before the wait.
    """
    partitions = list(written)
    deadline = time.monotonic() + SETTLE_SECONDS
    next_check = time.monotonic() + WRITING_CHECK_SECONDS
    last_written = written_ends(kafka_config, topic, partitions)
    while True:
        ends = _ends(consumer, topic, partitions)
        if all(ends[p][1] >= written[p] for p in partitions) or time.monotonic() > deadline:
            return ends
        if time.monotonic() > next_check:
            now_written = written_ends(kafka_config, topic, partitions)
            if any(now_written[p] > last_written[p] + 1 for p in partitions):
                # More than a marker came: a producer is writing; what is decided now is it.
                return _ends(consumer, topic, partitions)
            last_written = now_written
            next_check = time.monotonic() + WRITING_CHECK_SECONDS
        time.sleep(0.02)


def read_all(
    kafka_config: dict[str, Any], topic: str, committed_only: bool = True, timeout: float = 30.0
) -> list[Message]:
    """Every message up to the current end of every partition (for ``committed_only``: of
    every transaction ended before the call)."""
    consumer = Consumer(
        {
            **kafka_config,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed" if committed_only else "read_uncommitted",
        }
    )
    try:
        partitions = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        if committed_only:
            marks = settled_ends(
                consumer, topic, written_ends(kafka_config, topic, partitions), kafka_config
            )
        else:
            marks = _ends(consumer, topic, partitions)
        ends = {p: high for p, (low, high) in marks.items() if high > low}
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        messages: list[Message] = []
        done: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(done) < len(ends) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                # read_committed stops before open/aborted tail; check positions instead.
                for tp in consumer.position([TopicPartition(topic, p) for p in ends]):
                    if tp.offset >= ends[tp.partition]:
                        done.add(tp.partition)
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    done.add(message.partition())
                    continue
                raise RuntimeError(message.error().str())
            messages.append(message)
            if message.offset() + 1 >= ends[message.partition()]:
                done.add(message.partition())
        if len(done) < len(ends):
            raise TimeoutError(f"topic {topic}: read {len(messages)} messages, not at the end")
        return messages
    finally:
        consumer.close()
