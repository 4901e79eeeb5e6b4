"""Kubernetes metadata for container log lines, from a node-scoped list+watch cache."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logwax.connectors import lazy
from logwax.connectors.k8s_metadata.config import KubernetesMetadataConfig
from logwax.connectors.k8s_metadata.enrich import Enricher

if TYPE_CHECKING:
    from logwax.connectors.k8s_metadata.health import probe

__all__ = ["Enricher", "KubernetesMetadataConfig", "probe"]
__getattr__ = lazy.exports(__name__, {"probe": "health"})
