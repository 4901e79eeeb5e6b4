"""The Kubernetes Events source as the registry sees it: the events flow's only source."""

from __future__ import annotations

from logwax.connectors.descriptor import SourceConnector
from logwax.connectors.k8s_events.config import KubernetesEventsSourceConfig
from logwax.connectors.k8s_events.health import probe
from logwax.connectors.k8s_events.source import KubernetesEventsSource

SOURCE = SourceConnector(
    tag="kubernetes_events",
    config=KubernetesEventsSourceConfig,
    build=KubernetesEventsSource,
    probe=probe,
    flows=frozenset({"collect", "events"}),
)
