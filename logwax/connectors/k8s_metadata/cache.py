"""The node-scoped metadata cache: the node's pods and every namespace, list+watched.

Only pods with ``spec.nodeName`` = this node are asked for (a field selector the API server
applies), so the cache grows with the node, not the cluster. One cache per API endpoint and node
is shared by every files source of the process: two sources tailing the same node need one watch.
"""

from __future__ import annotations

import logging
import os
import threading

from kubernetes import client, config

from logwax.connectors.k8s_metadata.config import KubernetesMetadataConfig
from logwax.connectors.k8s_metadata.owners import OwnerResolver
from logwax.connectors.k8s_metadata.reflector import Reflector
from logwax.connectors.k8s_metadata.stores import NamespaceStore, PodStore

log = logging.getLogger(__name__)


def api_client(settings: KubernetesMetadataConfig) -> client.ApiClient:
    """kubeconfig if given, in-cluster inside a pod, else the user's default kubeconfig."""
    if settings.kubeconfig is not None:
        return config.new_client_from_config(str(settings.kubeconfig), context=settings.context)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    return config.new_client_from_config(context=settings.context)


class MetadataCache:
    """Started once, read from any thread; the watch threads are daemons."""

    def __init__(self, settings: KubernetesMetadataConfig) -> None:
        self.settings = settings
        self.node = settings.node()
        api = api_client(settings)
        core = client.CoreV1Api(api)
        self.owners = (
            OwnerResolver(api, settings.owner_ttl.total_seconds()) if settings.owners else None
        )
        self.pods = PodStore(settings, self.owners)
        self.namespaces = NamespaceStore(settings)
        timeout = settings.watch_timeout.total_seconds()
        backoff = settings.reconnect_backoff_max.total_seconds()
        self.reflectors = [
            Reflector(
                "pods",
                core.list_pod_for_all_namespaces,
                {"field_selector": f"spec.nodeName={self.node}"},
                self.pods,
                timeout,
                backoff,
            )
        ]
        if settings.namespace_labels:
            self.reflectors.append(
                Reflector("namespaces", core.list_namespace, {}, self.namespaces, timeout, backoff)
            )

    def start(self) -> None:
        for reflector in self.reflectors:
            reflector.start()
        log.info("kubernetes metadata: caching the pods of node %s", self.node)

    def stop(self) -> None:
        for reflector in self.reflectors:
            reflector.stop()

    def synced(self) -> bool:
        return all(r.synced.is_set() for r in self.reflectors)

    def namespaces_listed(self) -> bool:
        """The namespaces' first list arrived (or namespace labels are off): a pod's record
        enriched before that would lack its namespace labels."""
        return all(r.synced.is_set() for r in self.reflectors if r.resource == "namespaces")


_shared: dict[str, tuple[MetadataCache, int]] = {}
_shared_lock = threading.Lock()


def acquire(settings: KubernetesMetadataConfig) -> MetadataCache:
    """The process's cache for these settings, started on first use."""
    key = settings.model_dump_json() + "|" + settings.node()
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            cache = MetadataCache(settings)
            cache.start()
            found = (cache, 0)
        _shared[key] = (found[0], found[1] + 1)
        return found[0]


def release(cache: MetadataCache) -> None:
    """One user fewer; the last one stops the watches."""
    with _shared_lock:
        for key, (held, users) in list(_shared.items()):
            if held is cache:
                if users <= 1:
                    del _shared[key]
                    cache.stop()
                else:
                    _shared[key] = (held, users - 1)
