"""Kubernetes Events: list, watch with bookmarks, re-list on 410 Gone, resume from version."""

from connectors.k8s_events.config import KubernetesEventsSourceConfig
from connectors.k8s_events.source import KubernetesEventsSource

__all__ = ["KubernetesEventsSource", "KubernetesEventsSourceConfig"]
