"""Every connector logwax knows, by the name the pipeline file gives it.

Settings parsing, flow building and ``logwax check`` read these tables and nothing else: a new
connector is its own folder with a ``connector.py`` descriptor, plus one line here.
"""

from __future__ import annotations

from typing import Any

from logwax.connectors.descriptor import InputConnector, SinkConnector, SourceConnector
from logwax.connectors.elasticsearch import connector as _elasticsearch
from logwax.connectors.etcd import connector as _etcd
from logwax.connectors.files import connector as _files
from logwax.connectors.journald import connector as _journald
from logwax.connectors.k8s_events import connector as _k8s_events
from logwax.connectors.kafka import connector as _kafka

SOURCES: dict[str, SourceConnector[Any]] = {
    c.tag: c for c in (_files.SOURCE, _journald.SOURCE, _k8s_events.SOURCE)
}
INPUTS: dict[str, InputConnector[Any]] = {c.key: c for c in (_kafka.INPUT, _etcd.INPUT)}
SINKS: dict[str, SinkConnector[Any]] = {c.key: c for c in (_kafka.SINK, _elasticsearch.SINK)}
