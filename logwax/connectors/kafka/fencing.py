"""Fencing the previous run's transactional producers before any sink partition reads back.

A dead-letter topic partition can be shared by several sink partitions (it has fewer partitions
than the topic). A read-back with ``read_committed`` stops at the partition's last stable offset:
the first record of a transaction still open. If sink partition B's killed producer left a
transaction open there, sink partition A, reading back what it committed after its snapshot,
stops at B's open records and misses its own committed dead letters behind them; it then ships
them a second time. Seen as one duplicate dead letter in about one crash test of thirteen.

So every transactional id of the sink is fenced (``init_transactions`` aborts what its last
holder left open) once, when the flow is built. That happens in every process before the
cluster starts, so before any sink partition of this run writes: what remains open afterwards
belongs to this run and lies after every record of the previous one.
"""

from __future__ import annotations

import contextlib
import logging
from functools import partial

from confluent_kafka import KafkaException, Producer

from logwax.connectors.kafka import clients, diagnosis
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.core.background import in_background

log = logging.getLogger(__name__)

METADATA_FIRST_SECONDS = 5.0


def transactional_id(prefix: str, topic: str, part: str) -> str:
    """Stable across runs, so a new producer fences the one a crash left behind."""
    return f"{prefix}-{topic}-{part}"


def fence_earlier_runs(config: KafkaSinkConfig, prefix: str, parts: list[str]) -> None:
    """Abort whatever the previous run's producers of these sink partitions left open.

    Needed only where sink partitions share a dead-letter partition; elsewhere each partition's
    own ``init_transactions`` at build fences its zombie before its read-back.
    """
    if config.dead_letter_topic is None or not parts:
        return
    ids = [transactional_id(prefix, config.topic, part) for part in parts]
    # One round trip to the transaction coordinator per id, a few at a time (``background``,
    # as the sink partitions' own starts): start-up stays short for topics with many partitions.
    fences = [
        in_background(f"kafka-fence-{one}", partial(_fence_patiently, config, one)) for one in ids
    ]
    for fence in fences:
        fence.result()
    log.info(
        "sink topic=%s fenced %d transactional producers of earlier runs", config.topic, len(ids)
    )


def _fence_patiently(config: KafkaSinkConfig, one: str) -> None:
    """A refused credential or transactional-id ACL is waited out and said once (diagnosis),
    as for each sink partition's own ``init_transactions``, instead of failing the start."""
    diagnosis.patiently(config.bootstrap_servers, lambda: _fence(config, one))


def _fence(config: KafkaSinkConfig, one: str) -> None:
    """Settings (and secret files) read at each attempt, so a corrected Secret counts."""
    initialised(Producer(clients.transactional_producer(config, one)), config.topic).flush(0)


def initialised(producer: Producer, topic: str) -> Producer:
    """``producer`` past ``init_transactions`` (which fences its id's earlier holder); when the
    broker refuses, the error callback is served first, so the refusal is said with its reason.

    ``topic``'s metadata is asked for first: that connects the producer, so ``init_transactions``
    finds a broker up. Called on a producer with no connection yet, librdkafka can give up its
    first coordinator query and wait for its 500 ms retry timer (against the dev broker, six
    starts each way: 0.255 s, and 0.506 s once, without; 0.257-0.28 s with). What the request
    may raise is left to ``init_transactions`` to say.
    """
    with contextlib.suppress(KafkaException):
        producer.list_topics(topic, timeout=METADATA_FIRST_SECONDS)
    try:
        producer.init_transactions(60)
    except KafkaException:
        producer.poll(0)
        raise
    return producer
