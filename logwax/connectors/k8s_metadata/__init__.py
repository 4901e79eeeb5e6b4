"""Kubernetes metadata for container log lines, from a node-scoped list+watch cache."""

from logwax.connectors.k8s_metadata.config import KubernetesMetadataConfig
from logwax.connectors.k8s_metadata.enrich import Enricher
from logwax.connectors.k8s_metadata.health import probe

__all__ = ["Enricher", "KubernetesMetadataConfig", "probe"]
