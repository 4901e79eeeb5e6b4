"""``logwax check`` for Kubernetes metadata: may we list this node's pods and the namespaces."""

from __future__ import annotations

from kubernetes import client

from logwax.connectors.k8s_metadata.cache import api_client
from logwax.connectors.k8s_metadata.config import KubernetesMetadataConfig


def probe(settings: KubernetesMetadataConfig) -> str:
    node = settings.node()
    core = client.CoreV1Api(api_client(settings))
    pods = core.list_pod_for_all_namespaces(
        field_selector=f"spec.nodeName={node}", limit=1, _request_timeout=10
    )
    if settings.namespace_labels:
        core.list_namespace(limit=1, _request_timeout=10)
    more = (pods.metadata.remaining_item_count if pods.metadata else None) or 0
    return f"pods of node {node} can be listed ({len(pods.items) + more} now)"
