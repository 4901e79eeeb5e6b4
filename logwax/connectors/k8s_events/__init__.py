"""Kubernetes Events: list, watch with bookmarks, re-list on 410 Gone, resume from version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logwax.connectors import lazy
from logwax.connectors.k8s_events.config import KubernetesEventsSourceConfig

if TYPE_CHECKING:
    from logwax.connectors.k8s_events.source import KubernetesEventsSource

__all__ = ["KubernetesEventsSource", "KubernetesEventsSourceConfig"]
__getattr__ = lazy.exports(__name__, {"KubernetesEventsSource": "source"})
