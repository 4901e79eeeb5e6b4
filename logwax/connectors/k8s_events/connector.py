"""The Kubernetes Events source as the registry sees it: the events flow's only source.

The source and its probe import the Kubernetes client when they are used, not when the
registry is read (see ``connectors.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logwax.connectors.descriptor import SourceConnector
from logwax.connectors.k8s_events.config import KubernetesEventsSourceConfig

if TYPE_CHECKING:
    from logwax.connectors.k8s_events.source import KubernetesEventsSource


def build(config: KubernetesEventsSourceConfig) -> KubernetesEventsSource:
    from logwax.connectors.k8s_events.source import KubernetesEventsSource

    return KubernetesEventsSource(config)


def probe(config: KubernetesEventsSourceConfig) -> str:
    from logwax.connectors.k8s_events.health import probe as list_events

    return list_events(config)


SOURCE = SourceConnector(
    tag="kubernetes_events",
    config=KubernetesEventsSourceConfig,
    build=build,
    probe=probe,
    flows=frozenset({"collect", "events"}),
)
