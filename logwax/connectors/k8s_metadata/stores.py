"""The local copies the reflectors keep current: the node's pods and the namespaces' labels.

Deleted pods stay findable for ``deleted_pod_grace``: the kubelet removes a pod's log files some
time after the pod is gone, and a reader behind on that file must still be able to say whose
lines they are. A pod missing from a re-list counts as deleted at that moment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from logwax.connectors.k8s_metadata.config import KubernetesMetadataConfig
from logwax.connectors.k8s_metadata.owners import OwnerResolver
from logwax.connectors.k8s_metadata.pods import PodInfo, namespace_labels, pod_info
from logwax.core.metrics import K8S_METADATA_CACHED

PURGE_EVERY_S = 5.0


class PodStore:
    def __init__(self, config: KubernetesMetadataConfig, owners: OwnerResolver | None) -> None:
        self._config = config
        self._owners = owners
        self._grace = config.deleted_pod_grace.total_seconds()
        self._by_uid: dict[str, PodInfo] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        self._mirrors: dict[str, str] = {}  # static pod uid (in log paths) → mirror pod uid
        self._deleted: dict[str, float] = {}  # uid → when it was deleted (monotonic)
        self._lock = threading.Lock()
        self._next_purge = 0.0

    # -- the reflector's side ---------------------------------------------------------------
    def replace(self, objects: Iterable[dict[str, Any]]) -> int:
        infos = [self._info(obj) for obj in objects]
        now = time.monotonic()
        with self._lock:
            listed = {info.uid for info in infos}
            for uid in self._by_uid:
                if uid not in listed and uid not in self._deleted:
                    self._deleted[uid] = now
            for info in infos:
                self._put(info)
            self._purge(now)
        if self._owners is not None:
            self._owners.forget_unused(
                {(p.namespace, p.owner.kind, p.owner.name) for p in infos if p.owner}
            )
        return len(infos)

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        info = self._info(obj) if kind != "DELETED" else pod_info(obj, self._config)
        now = time.monotonic()
        with self._lock:
            self._put(info)
            if kind == "DELETED":
                self._deleted[info.uid] = now
            self._purge(now)

    def tick(self) -> None:
        if self._owners is not None:
            self._owners.retry_failed()

    def _info(self, obj: dict[str, Any]) -> PodInfo:
        info = pod_info(obj, self._config)
        if self._owners is not None:
            self._owners.resolve(info.namespace, info.owner)
        return info

    def _put(self, info: PodInfo) -> None:
        self._by_uid[info.uid] = info
        self._by_name[(info.namespace, info.name)] = info.uid
        if info.mirror_of:
            self._mirrors[info.mirror_of] = info.uid
        self._deleted.pop(info.uid, None)

    def _purge(self, now: float) -> None:
        """Forget pods deleted longer ago than the grace (call with the lock held)."""
        if now < self._next_purge:
            return
        self._next_purge = now + min(PURGE_EVERY_S, self._grace)
        for uid, when in list(self._deleted.items()):
            if now - when >= self._grace:
                del self._deleted[uid]
                info = self._by_uid.pop(uid, None)
                if info is not None and self._by_name.get((info.namespace, info.name)) == uid:
                    del self._by_name[(info.namespace, info.name)]
                if info is not None and info.mirror_of:
                    self._mirrors.pop(info.mirror_of, None)
        K8S_METADATA_CACHED.labels("pods").set(len(self._by_uid) - len(self._deleted))
        K8S_METADATA_CACHED.labels("deleted_pods").set(len(self._deleted))

    # -- the reading side -------------------------------------------------------------------
    def find(self, uid: str | None, namespace: str, name: str) -> PodInfo | None:
        """The pod by uid (``/var/log/pods`` paths) or by namespace and name; no API call."""
        now = time.monotonic()
        if now >= self._next_purge:
            with self._lock:
                self._purge(now)
        if uid:
            return self._by_uid.get(uid) or self._by_uid.get(self._mirrors.get(uid, ""))
        found = self._by_name.get((namespace, name))
        return self._by_uid.get(found) if found is not None else None

    def is_deleted(self, uid: str) -> bool:
        """Deleted in the API but still kept for its late lines."""
        return uid in self._deleted

    def __len__(self) -> int:
        return len(self._by_uid) - len(self._deleted)


class NamespaceStore:
    def __init__(self, config: KubernetesMetadataConfig) -> None:
        self._config = config
        self._labels: dict[str, dict[str, str]] = {}

    def replace(self, objects: Iterable[dict[str, Any]]) -> int:
        self._labels = {
            obj["metadata"]["name"]: namespace_labels(obj, self._config) for obj in objects
        }
        K8S_METADATA_CACHED.labels("namespaces").set(len(self._labels))
        return len(self._labels)

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            self._labels.pop(name, None)  # the pods in it are deleted (and kept) on their own
        else:
            self._labels[name] = namespace_labels(obj, self._config)
        K8S_METADATA_CACHED.labels("namespaces").set(len(self._labels))

    def tick(self) -> None:
        """Nothing deferred for namespaces."""

    def labels(self, namespace: str) -> dict[str, str] | None:
        return self._labels.get(namespace)
