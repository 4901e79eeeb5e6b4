"""The arguments of confluent-kafka's ``produce()``, given by position.

``produce()`` parses its keywords by name: with a key, two headers and a delivery callback that
was 0.3 of its 1.2 µs per record; the same call by position took 0.9 (5,000 records a batch,
same broker). The positions are those of the C signature, which names the callback twice
(``callback``, then its alias ``on_delivery``) where the documentation shows one slot, so
callers write ``produce(topic, value, key, partition, on_delivery, None, NOW, headers)``.
``test_kafka_produce_by_position`` sends records that way to a real broker, reads back key,
headers, partition, timestamp and value, and gets a refusal (a partition the topic lacks) to
the callback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logwax.connectors.kafka.outgoing import Outgoing

ANY_PARTITION = -1  # RD_KAFKA_PARTITION_UA: the producer's partitioner chooses
NOW = 0  # the record's timestamp: 0 is the time it is produced


def arguments(
    item: Outgoing, on_delivery: Callable[..., Any], partition: int = ANY_PARTITION
) -> tuple[Any, ...]:
    """``produce(*arguments(item, on_delivery))``: for the paths off the hot loops, which
    write the same call out (a call per record to build the tuple would cost what position
    saves)."""
    return (item.topic, item.value, item.key, partition, on_delivery, None, NOW, item.headers)
