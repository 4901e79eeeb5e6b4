"""From a source's settings to the bytewax source that reads it."""

from __future__ import annotations

from typing import Any

from bytewax.inputs import FixedPartitionedSource

from logwax.connectors.files import FilesSource, FilesSourceConfig
from logwax.connectors.journald import JournaldSource, JournaldSourceConfig
from logwax.connectors.k8s_events import KubernetesEventsSource, KubernetesEventsSourceConfig
from logwax.core.record import Record


def build_source(config: Any) -> FixedPartitionedSource[Record, Any]:
    if isinstance(config, FilesSourceConfig):
        return FilesSource(config)
    if isinstance(config, JournaldSourceConfig):
        return JournaldSource(config)
    if isinstance(config, KubernetesEventsSourceConfig):
        return KubernetesEventsSource(config)
    raise TypeError(f"no source for settings of type {type(config).__name__}")
