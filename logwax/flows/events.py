"""The events flow: Kubernetes Events → dedup → batch → Elasticsearch and/or Kafka: the
event exporter of the seeds, with re-lists and restarts deduplicated by event id.

``logwax run -c events.yaml`` or
``LOGWAX_CONFIG=events.yaml python -m bytewax.run "logwax.flows.events:from_env()" \
-r DIR -s 10 -b 0``.
"""

from __future__ import annotations

from bytewax.dataflow import Dataflow

from logwax.flows import collect
from logwax.flows.pipeline import config_from_env
from logwax.settings import PipelineConfig


def build(config: PipelineConfig) -> Dataflow:
    # Same wiring as collect; the config's validator keeps the sources to Kubernetes Events.
    return collect.build(config)


def from_env() -> Dataflow:
    return build(config_from_env())
