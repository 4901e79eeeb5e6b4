"""The wiring every flow shares: dedup by stream, then per sink a batching step and the sink.

Records travel as per-stream chunks (see ``logwax.steps.chunks``) and are keyed by stream for
dedup (so one worker owns a stream's recent ids). For the
exactly-once Kafka sink, batches are keyed by the Kafka partition the stream maps to, because
each sink partition is the only transactional writer of its Kafka partition; other sinks batch
per bucket of streams, spreading work over workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from zlib import adler32

import bytewax.operators as op
from bytewax.dataflow import Stream
from bytewax.outputs import Sink

from logwax.connectors.elasticsearch import ElasticsearchSink
from logwax.connectors.kafka import KafkaSink
from logwax.connectors.kafka.transactional import ExactlyOnceKafkaSink, WakeEveryPartition
from logwax.settings import PipelineConfig
from logwax.steps.batching import Batch, BatchLogic, OpenBatch
from logwax.steps.chunks import Chunk, chunk_stream
from logwax.steps.dedup import dedup_mapper

BUCKETS = 64


def stream_bucket(chunk: Chunk, buckets: int = BUCKETS) -> str:
    return str(adler32(chunk_stream(chunk).encode()) % buckets)


def deduplicated(records: Stream[Chunk], config: PipelineConfig) -> Stream[Chunk]:
    if not config.dedup.enabled:
        return records
    keyed = op.key_on("dedup_key", records, chunk_stream)
    settings = config.dedup
    unique = op.stateful_flat_map(
        "dedup", keyed, dedup_mapper("dedup", settings.ttl, settings.max_ids_per_stream)
    )
    return op.map("dedup_unkey", unique, lambda kv: kv[1])


def _batched(
    step: str, records: Stream[Chunk], key: Callable[[Chunk], str], config: PipelineConfig
) -> Stream[tuple[str, Batch]]:
    settings = config.batch
    keyed = op.key_on(f"{step}_key", records, key)

    def builder(resume: OpenBatch | None) -> BatchLogic:
        return BatchLogic(
            settings.max_records, int(settings.max_bytes), settings.max_latency, resume, step
        )

    return op.stateful_batch(step, keyed, builder)


def _unkeyed(step: str, batches: Stream[tuple[str, Batch]]) -> Stream[Batch]:
    return op.map(step, batches, lambda kv: kv[1])


def deliver(records: Stream[Chunk], config: PipelineConfig) -> None:
    """Batch and write to every configured sink."""
    if config.kafka is not None:
        if config.kafka.exactly_once:
            sink = ExactlyOnceKafkaSink(config.kafka, f"logwax-{config.name}")
            parts = sink.list_parts()  # asks the broker; once is enough
            batches = _batched(
                "batch_kafka",
                records,
                lambda chunk: parts[adler32(chunk_stream(chunk).encode()) % len(parts)],
                config,
            )
            wake = op.input("sink_kafka_wake", batches.flow(), WakeEveryPartition(parts))
            op.output("sink_kafka", op.merge("sink_kafka_items", batches, wake), sink)
        else:
            batches = _batched("batch_kafka", records, stream_bucket, config)
            op.output("sink_kafka", _unkeyed("unkey_kafka", batches), KafkaSink(config.kafka))
    if config.elasticsearch is not None:
        es_sink: Sink[Batch] = ElasticsearchSink(config.elasticsearch)
        batches = _batched("batch_elasticsearch", records, stream_bucket, config)
        op.output("sink_elasticsearch", _unkeyed("unkey_elasticsearch", batches), es_sink)


def merged_inputs(streams: list[Stream[Chunk]]) -> Stream[Chunk]:
    return streams[0] if len(streams) == 1 else op.merge("sources", *streams)


def config_from_env() -> PipelineConfig:
    """The pipeline file named in ``$LOGWAX_CONFIG``, for flows started by ``bytewax.run``.

    That runner does not go through ``logwax run``, so logging (``LOGWAX_LOG_LEVEL``, default
    INFO; ``LOGWAX_LOG_FORMAT`` kv or json) and the process tuning are set up here: without it a
    sink retrying a refused batch would be silent.
    """
    import logging
    from pathlib import Path

    from logwax.core import gctuning, observability
    from logwax.settings import load_config

    if not logging.getLogger().handlers:
        observability.setup_logging(
            os.environ.get("LOGWAX_LOG_LEVEL", "INFO"), os.environ.get("LOGWAX_LOG_FORMAT", "kv")
        )
    config = load_config(Path(os.environ["LOGWAX_CONFIG"]))
    gctuning.tune()
    return config
