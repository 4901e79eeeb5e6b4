"""The collect flow: node sources (tailed files, journald) → Kafka and/or Elasticsearch.

Run it with ``logwax run -c pipeline.yaml``, or with bytewax's own runner:
``LOGWAX_CONFIG=pipeline.yaml python -m bytewax.run "flows.collect:from_env()" -r DIR -s 10 -b 0``.
"""

from __future__ import annotations

import os
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from connectors.elasticsearch import ElasticsearchSink
from connectors.kafka import KafkaSink
from flows.sources import build_source
from logwax.config import PipelineConfig, load_config
from logwax.record import Record


def build(config: PipelineConfig) -> Dataflow:
    flow = Dataflow(config.name)
    streams: list[Stream[Record]] = [
        op.input(f"source_{source.name}", flow, build_source(source)) for source in config.sources
    ]
    records = streams[0] if len(streams) == 1 else op.merge("sources", *streams)
    if config.kafka is not None:
        op.output("sink_kafka", records, KafkaSink(config.kafka))
    if config.elasticsearch is not None:
        op.output("sink_elasticsearch", records, ElasticsearchSink(config.elasticsearch))
    return flow


def from_env() -> Dataflow:
    """The flow described by the pipeline file named in ``$LOGWAX_CONFIG``."""
    return build(load_config(Path(os.environ["LOGWAX_CONFIG"])))
