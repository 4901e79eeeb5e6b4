"""The wiring every flow shares: dedup by stream, then per configured sink its own output.

Records travel as per-stream chunks (see ``logwax.steps.chunks``) and are keyed by stream for
dedup (so one worker owns a stream's recent ids). Each sink attaches itself (its descriptor in
``logwax.connectors.registry``) with the batching step handed over here: by default batches are
keyed by a bucket of streams; the exactly-once Kafka sink keys them by Kafka partition instead.

Dedup and the default batching keep a chunk on the worker whose source partition read it
(``logwax.steps.locality``): workers share the load by the source partitions they own, and no
worker reads faster than its own steps and sink can take.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from zlib import adler32

import bytewax.operators as op
from bytewax.dataflow import Stream

from logwax.connectors.descriptor import Batcher, SinkWiring
from logwax.connectors.registry import SINKS
from logwax.settings import PipelineConfig
from logwax.steps.batching import Batch, BatchLogic, OpenBatch
from logwax.steps.chunks import Chunk, chunk_stream
from logwax.steps.dedup import dedup
from logwax.steps.locality import know_workers

BUCKETS = 64


def stream_bucket(chunk: Chunk, buckets: int = BUCKETS) -> str:
    return str(adler32(chunk_stream(chunk).encode()) % buckets)


def deduplicated(records: Stream[Chunk], config: PipelineConfig) -> Stream[Chunk]:
    if not config.dedup.enabled:
        return records
    local_key = know_workers(records.flow()).local_key
    keyed = op.key_on("dedup_key", records, lambda chunk: local_key(chunk_stream(chunk)))
    settings = config.dedup
    unique = dedup("dedup", keyed, settings.ttl, settings.max_ids_per_stream)
    return op.map("dedup_unkey", unique, lambda kv: kv[1])


def batcher(config: PipelineConfig) -> Batcher:
    """The batching step sinks use: closes at max_records, max_bytes or max_latency.

    Batches fill on the worker that read their records, by stream bucket or by the sink's own
    ``key``. With a ``key`` (the exactly-once sink's Kafka partition) each batch comes out keyed
    by it again, for the sink to route: so only whole batches cross to another worker, once.
    """
    settings = config.batch

    def batch(
        step_id: str, records: Stream[Chunk], key: Callable[[Chunk], str] | None = None
    ) -> Stream[tuple[str, Batch]]:
        local_key = know_workers(records.flow()).local_key
        bucket = key or stream_bucket
        keyed = op.key_on(f"{step_id}_key", records, lambda chunk: local_key(bucket(chunk)))

        def builder(resume: OpenBatch | None) -> BatchLogic:
            return BatchLogic(
                settings.max_records, int(settings.max_bytes), settings.max_latency, resume, step_id
            )

        batches = op.stateful_batch(step_id, keyed, builder)
        if key is None:
            return batches
        return op.map(f"{step_id}_rekey", batches, lambda kv: (key(kv[1]), kv[1]))

    return batch


def deliver(records: Stream[Chunk], config: PipelineConfig) -> None:
    """Batch and write to every configured sink."""
    wiring = SinkWiring(
        pipeline=config.name,
        batch=batcher(config),
        max_latency=config.batch.max_latency,
        max_records=config.batch.max_records,
    )
    for key, sink in SINKS.items():
        settings = getattr(config, key)
        if settings is not None:
            sink.attach(records, settings, wiring)


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
