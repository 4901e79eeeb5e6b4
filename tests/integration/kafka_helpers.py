"""Reading a whole topic back the way a downstream consumer would."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

# How long a read waits for transactions already ended to become readable (see ``settled_ends``).
SETTLE_SECONDS = 5.0
# Set while a test's wait loop polls a topic (``polling``): a running flow always has a
# transaction open, so a settled read would wait the whole bound at every poll; the loop polls
# again anyway, so there it reads what is decided at once.
_polling = False


@contextlib.contextmanager
def polling() -> Iterator[None]:
    global _polling
    before, _polling = _polling, True
    try:
        yield
    finally:
        _polling = before


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
    consumer: Consumer, topic: str, written: dict[int, int]
) -> dict[int, tuple[int, int]]:
    """The ``read_committed`` ``consumer``'s ends once the records up to ``written`` are decided.

    A producer's ``commit_transaction`` (and ``abort_transaction``) returns once the
    coordinator has logged its decision; the markers that make the records readable reach the
    partitions a moment later (10 ms typically, 230 ms at worst in 24 commits measured on the
    two-core test machine). Until then the partition's last stable offset stays before the
    transaction, so a read straight after a commit sees none of it. This waits, at most
    ``SETTLE_SECONDS``, until each partition's last stable offset reaches ``written``; a
    transaction still open after that (a killed producer's, a running flow's) is left out, as
    before.
    """
    partitions = list(written)
    deadline = time.monotonic() + (0.0 if _polling else SETTLE_SECONDS)
    while True:
        ends = _ends(consumer, topic, partitions)
        if all(ends[p][1] >= written[p] for p in partitions) or time.monotonic() > deadline:
            return ends
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
            marks = settled_ends(consumer, topic, written_ends(kafka_config, topic, partitions))
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
