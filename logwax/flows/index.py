"""The index flow: Kafka (read_committed) → transform rules → dedup → batch → Elasticsearch:
the agent's second stage in the seeds.

``logwax run -c index.yaml`` or
``LOGWAX_CONFIG=index.yaml python -m bytewax.run "logwax.flows.index:from_env()" \
-r DIR -s 10 -b 0``.

With ``kafka_input.consumer_group`` the flow reads as a member of that consumer group (see
``logwax.connectors.kafka.group``): scaling is starting or stopping processes. That mode skips
the dedup step: Elasticsearch's ``_id`` (from the event id) already makes a repeat one document,
and a record dedup dropped would never be confirmed by the sink, so its offset, and every one
after it in the partition, could never be committed.
"""

from __future__ import annotations

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source

from logwax.connectors.kafka.group import KafkaGroupSource
from logwax.connectors.registry import INPUTS
from logwax.core.errors import ConfigError
from logwax.flows.pipeline import config_from_env, deduplicated, deliver
from logwax.settings import PipelineConfig
from logwax.steps.chunks import Chunk, ChunkedDynamicSource, ChunkedSource
from logwax.steps.locality import know_workers
from logwax.steps.transforms import apply


def build(config: PipelineConfig) -> Dataflow:
    settings = config.kafka_input
    if settings is None:
        raise ConfigError("index flow", [("kafka_input", "required by the index flow")])
    flow = Dataflow(config.name)
    workers = know_workers(flow)  # before the input: its partitions spread over the workers
    grouped = settings.consumer_group is not None
    source: Source[Chunk] = (
        ChunkedDynamicSource(KafkaGroupSource(settings))
        if grouped
        else ChunkedSource(INPUTS["kafka_input"].build(settings), workers)
    )
    records = op.input("source_kafka", flow, source)
    rules = list(config.transforms)
    if rules:
        records = op.map("transform", records, lambda chunk: [apply(rules, r) for r in chunk])
    deliver(records if grouped else deduplicated(records, config), config)
    return flow


def from_env() -> Dataflow:
    return build(config_from_env())
