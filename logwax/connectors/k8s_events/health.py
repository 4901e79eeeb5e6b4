"""``logwax check`` for a Kubernetes Events source: may we list Events where we watch."""

from __future__ import annotations

from kubernetes import client

from logwax.connectors.k8s_events.config import KubernetesEventsSourceConfig
from logwax.connectors.k8s_events.watcher import api_client


def probe(config: KubernetesEventsSourceConfig) -> str:
    core = client.CoreV1Api(api_client(config))
    if len(config.namespaces) == 1:
        core.list_namespaced_event(config.namespaces[0], limit=1)
    else:
        core.list_event_for_all_namespaces(limit=1)
    return "events can be listed"
