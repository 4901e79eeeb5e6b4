"""The collect flow: node sources (tailed files, journald) → dedup → batch → Kafka
(and/or Elasticsearch): the log agent of the seeds.

Run it with ``logwax run -c pipeline.yaml`` or with bytewax's own runner:
``LOGWAX_CONFIG=pipeline.yaml python -m bytewax.run "logwax.flows.collect:from_env()" \
-r DIR -s 10 -b 0``.
"""

from __future__ import annotations

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from logwax.connectors.registry import INPUTS, SOURCES
from logwax.flows.pipeline import config_from_env, deduplicated, deliver, merged_inputs
from logwax.settings import PipelineConfig
from logwax.steps.chunks import ChunkedSource
from logwax.steps.locality import know_workers


def build(config: PipelineConfig) -> Dataflow:
    flow = Dataflow(config.name)
    workers = know_workers(flow)  # before the inputs: they spread over the workers by it
    streams = [
        op.input(f"source_{s.name}", flow, ChunkedSource(SOURCES[s.type].build(s), workers, i))
        for i, s in enumerate(config.sources)
    ]
    if config.etcd_targets is not None:
        etcd = INPUTS["etcd_targets"].build(config.etcd_targets)
        targets = ChunkedSource(etcd, workers, len(streams))
        streams.append(op.input("source_etcd_targets", flow, targets))
    deliver(deduplicated(merged_inputs(streams), config), config)
    return flow


def from_env() -> Dataflow:
    """The flow described by the pipeline file named in ``$LOGWAX_CONFIG``."""
    return build(config_from_env())
