"""What a container log line carries: the path's facts, plus the cached pod's, in ECS names.

The files source asks two things, both answered from memory: may this file be read now
(``ready``), and what goes on its lines (``fields``). A file whose pod is not cached yet is held
back for at most ``metadata_wait`` (the watch usually delivers a new pod within milliseconds of
the kubelet starting it); other files go on being read meanwhile. After the wait its lines ship
with what the path says and ``kubernetes.metadata_missing: true``, counted by
``logwax_kubernetes_metadata_lookups{result="miss"}``. Nothing is dropped and nothing waits on
the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from logwax.connectors.k8s_metadata.config import KubernetesMetadataConfig
from logwax.connectors.k8s_metadata.pods import PodInfo
from logwax.core.metrics import K8S_METADATA_LOOKUPS

if TYPE_CHECKING:
    from logwax.connectors.k8s_metadata.cache import MetadataCache

WORKLOAD_KINDS = frozenset(
    {"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
)
FORGET_WAITS_OVER = 10_000  # files of never-seen pods remembered; then the oldest are forgotten

PathKey = tuple[str, str, str]  # pod uid (or ""), namespace, pod name


def _key(path_fields: dict[str, Any]) -> PathKey | None:
    found = path_fields.get("kubernetes")
    if not found:
        return None
    return (found.get("pod_uid") or "", found.get("namespace", ""), found.get("pod_name", ""))


def _split_id(container_id: str) -> tuple[str | None, str]:
    runtime, separator, bare = container_id.partition("://")
    return (runtime, bare) if separator else (None, container_id)


class Enricher:
    """One per files source, over the process's shared cache for its settings."""

    def __init__(self, cache: MetadataCache, source: str) -> None:
        self._cache = cache
        self._source = source
        self._wait = cache.settings.metadata_wait.total_seconds()
        self._waiting: dict[PathKey, float] = {}
        self._hit = K8S_METADATA_LOOKUPS.labels(source, "hit")
        self._miss = K8S_METADATA_LOOKUPS.labels(source, "miss")
        self._waited = K8S_METADATA_LOOKUPS.labels(source, "waited")

    @classmethod
    def start(cls, settings: KubernetesMetadataConfig, source: str) -> Enricher:
        # The cache (and the Kubernetes client, 0.15 s to import) only when a source asks for
        # metadata: every files source imports this module.
        from logwax.connectors.k8s_metadata import cache as shared

        return cls(shared.acquire(settings), source)

    def close(self) -> None:
        from logwax.connectors.k8s_metadata import cache as shared

        shared.release(self._cache)

    def _find(self, key: PathKey) -> PodInfo | None:
        return self._cache.pods.find(*key)

    def ready(self, path_fields: dict[str, Any], now: float) -> bool:
        """True when the file's lines may be handed on: pod cached (and the namespaces listed,
        for their labels), or waited long enough."""
        key = _key(path_fields)
        if key is None:
            return True
        if self._find(key) is not None and self._cache.namespaces_listed():
            self._waiting.pop(key, None)
            return True
        first = self._waiting.get(key)
        if first is None:
            if len(self._waiting) >= FORGET_WAITS_OVER:
                del self._waiting[next(iter(self._waiting))]
            self._waiting[key] = now
            self._waited.inc()
            return self._wait <= 0
        return now - first >= self._wait

    def fields(self, path_fields: dict[str, Any], records: int) -> dict[str, Any]:
        """The fields for ``records`` lines of this file (one dict, shared by them)."""
        key = _key(path_fields)
        if key is None:
            return path_fields
        found = path_fields["kubernetes"]
        info = self._find(key)
        if info is None:
            self._miss.inc(records)
            return self._path_only(found)
        self._hit.inc(records)
        return self._enriched(info, found)

    @staticmethod
    def _path_only(found: dict[str, Any]) -> dict[str, Any]:
        pod = {"name": found.get("pod_name")}
        if found.get("pod_uid"):
            pod["uid"] = found["pod_uid"]
        fields: dict[str, Any] = {
            "kubernetes": {
                "namespace": found.get("namespace"),
                "pod": pod,
                "container": {"name": found.get("container_name")},
                "metadata_missing": True,
            }
        }
        if found.get("container_id"):
            fields["container"] = {"id": found["container_id"], "name": found["container_name"]}
        return fields

    def _enriched(self, info: PodInfo, found: dict[str, Any]) -> dict[str, Any]:
        name = found.get("container_name", "")
        kubernetes: dict[str, Any] = {
            "namespace": info.namespace,
            "node": {"name": info.node},
            "pod": {"name": info.name, "uid": info.uid, "ip": info.ip},
            "labels": info.labels,
        }
        if info.annotations:
            kubernetes["annotations"] = info.annotations
        namespace_labels = self._cache.namespaces.labels(info.namespace)
        if namespace_labels:
            kubernetes["namespace_labels"] = namespace_labels
        owner = info.owner
        if owner is not None and owner.kind in WORKLOAD_KINDS:
            kubernetes[owner.kind.lower()] = {"name": owner.name}
            parent = (
                self._cache.owners.cached(info.namespace, owner) if self._cache.owners else None
            )
            if parent is not None and parent.kind in WORKLOAD_KINDS:
                kubernetes[parent.kind.lower()] = {"name": parent.name}
        container = info.containers.get(name)
        ecs: dict[str, Any] = {"name": name}
        kubernetes["container"] = {"name": name}
        if container is not None:
            kubernetes["container"]["image"] = container.image
            ecs["image"] = {"name": container.image}
            if container.image_id:
                ecs["image"]["hash"] = {"all": [container.image_id]}
            if container.container_id:
                runtime, bare = _split_id(container.container_id)
                ecs["id"] = bare
                if runtime:
                    ecs["runtime"] = runtime
        if "id" not in ecs and found.get("container_id"):
            ecs["id"] = found["container_id"]
        return {"kubernetes": kubernetes, "container": ecs}
