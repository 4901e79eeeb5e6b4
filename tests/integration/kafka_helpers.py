"""Reading a whole topic back the way a downstream consumer would."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition


def read_all(
    kafka_config: dict[str, Any], topic: str, committed_only: bool = True, timeout: float = 30.0
) -> list[Message]:
    """Every message up to the current end of every partition."""
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
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
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
