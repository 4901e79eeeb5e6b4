"""The Kafka sink as one call, as bytewax's own Kafka operators wrap theirs.

At least once: batches stay on the worker that read them, whose idempotent producer confirms every
delivery. Exactly once: batches keyed by the Kafka partition their stream maps to (filled where
read, then sent whole to the worker owning that partition), because each
sink partition is the only transactional writer of its Kafka partition; a start-up input wakes
every sink partition so that a killed run's open transactions are fenced at once (see
``WakeEveryPartition``); with a dead-letter topic, all of them are fenced before the run starts
(see ``fencing``). The batches' own bounds tell the sink when to commit (``CommitPolicy``), so
records do not wait for the next snapshot to become visible.
"""

from __future__ import annotations

from zlib import adler32

import bytewax.operators as op
from bytewax.dataflow import Stream

from logwax.connectors.descriptor import Chunk, SinkWiring
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.fencing import fence_earlier_runs
from logwax.connectors.kafka.sink import KafkaSink
from logwax.connectors.kafka.transactional import (
    CommitPolicy,
    ExactlyOnceKafkaSink,
    WakeEveryPartition,
)

STEP = "sink_kafka"


def output(records: Stream[Chunk], config: KafkaSinkConfig, wiring: SinkWiring) -> None:
    """Batch ``records`` and produce them with the guarantee ``config.exactly_once`` asks for."""
    if config.exactly_once:
        exactly_once_output(records, config, wiring)
    else:
        batches = wiring.batch("batch_kafka", records)
        unkeyed = op.map("unkey_kafka", batches, lambda kv: kv[1])
        op.output(STEP, unkeyed, KafkaSink(config))


def exactly_once_output(
    records: Stream[Chunk], config: KafkaSinkConfig, wiring: SinkWiring
) -> None:
    prefix = f"logwax-{wiring.pipeline}"
    # Half the batch bound: a record of a full batch then waits at most about that plus a
    # wake-up in its transaction (measured at 10,000 lines/s: p99 1.6-2.0 s with the whole bound,
    # the sawtooth of one commit a second). Two commits a second per partition cost little.
    commit = CommitPolicy(after=wiring.max_latency / 2, full_batch=wiring.max_records)
    sink = ExactlyOnceKafkaSink(config, prefix, commit=commit)
    parts = sink.list_parts()  # asks the broker; once is enough
    fence_earlier_runs(config, prefix, parts)

    def kafka_partition(chunk: Chunk) -> str:
        return parts[adler32(chunk[0].stream.encode()) % len(parts)]

    batches = wiring.batch("batch_kafka", records, kafka_partition)
    wake_every = WakeEveryPartition(parts, every=wiring.max_latency / 4)
    wake = op.input(f"{STEP}_wake", batches.flow(), wake_every)
    op.output(STEP, op.merge(f"{STEP}_items", batches, wake), sink)
