"""The index flow: Kafka (read_committed) → transform rules → dedup → batch → Elasticsearch:
the agent's second stage in the seeds.

``logwax run -c index.yaml`` or
``LOGWAX_CONFIG=index.yaml python -m bytewax.run "logwax.flows.index:from_env()" \
-r DIR -s 10 -b 0``.
"""

from __future__ import annotations

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from logwax.connectors.registry import INPUTS
from logwax.core.errors import ConfigError
from logwax.flows.pipeline import config_from_env, deduplicated, deliver
from logwax.settings import PipelineConfig
from logwax.steps.chunks import ChunkedSource
from logwax.steps.transforms import apply


def build(config: PipelineConfig) -> Dataflow:
    if config.kafka_input is None:
        raise ConfigError("index flow", [("kafka_input", "required by the index flow")])
    flow = Dataflow(config.name)
    records = op.input(
        "source_kafka", flow, ChunkedSource(INPUTS["kafka_input"].build(config.kafka_input))
    )
    rules = list(config.transforms)
    if rules:
        records = op.map("transform", records, lambda chunk: [apply(rules, r) for r in chunk])
    deliver(deduplicated(records, config), config)
    return flow


def from_env() -> Dataflow:
    return build(config_from_env())
