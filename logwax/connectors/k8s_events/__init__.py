"""Kubernetes Events: list, watch with bookmarks, re-list on 410 Gone, resume from version."""

from logwax.connectors.k8s_events.config import KubernetesEventsSourceConfig
from logwax.connectors.k8s_events.source import KubernetesEventsSource

__all__ = ["KubernetesEventsSource", "KubernetesEventsSourceConfig"]
