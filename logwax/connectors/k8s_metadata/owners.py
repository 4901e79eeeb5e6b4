"""Which workload a pod belongs to: its ReplicaSet's Deployment, its Job's CronJob.

A pod names only its direct controller. Watching every ReplicaSet and Job of the cluster to learn
their owners would cost a DaemonSet pod far more than it saves, so the parent is read once when a
pod of that controller first shows up and trusted for ``owner_ttl``. Lookups run on the pod
watcher's thread, never on the reading path; while the API cannot be reached the pod keeps its
direct owner and the parent is asked again on the next change or re-list.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from logwax.connectors.k8s_metadata.pods import OWNED_BY_PARENT, Owner, controller_of
from logwax.core.metrics import K8S_METADATA_CACHED

RETRY_EVERY_S = 5.0
RETRY_BATCH = 50  # parents asked again per retry, so one retry never holds the watcher long
_MISSING = Owner("", "")  # a controller with no owner of its own (or gone): cached too


class OwnerResolver:
    def __init__(self, api: client.ApiClient, ttl_s: float) -> None:
        self._apps = client.AppsV1Api(api)
        self._batch = client.BatchV1Api(api)
        self._ttl = ttl_s
        self._known: dict[tuple[str, str, str], tuple[Owner, float]] = {}
        self._failed: set[tuple[str, str, str]] = set()
        self._next_retry = 0.0
        self._lock = threading.Lock()

    def cached(self, namespace: str, owner: Owner | None) -> Owner | None:
        """The parent of ``owner`` if known (stale or not); never calls the API."""
        if owner is None or owner.kind not in OWNED_BY_PARENT:
            return None
        found = self._known.get((namespace, owner.kind, owner.name))
        if found is None or found[0] is _MISSING:
            return None
        return found[0]

    def resolve(self, namespace: str, owner: Owner | None) -> None:
        """Read the parent of ``owner`` unless a fresh answer is cached (watcher thread only)."""
        if owner is None or owner.kind not in OWNED_BY_PARENT:
            return
        key = (namespace, owner.kind, owner.name)
        found = self._known.get(key)
        now = time.monotonic()
        if found is not None and found[1] > now:
            return
        try:
            obj = self._read(namespace, owner)
        except ApiException as exc:
            if exc.status != 404:
                self._failed.add(key)  # asked again by retry_failed
                return
            obj = None
        except (HTTPError, OSError, ValueError):
            self._failed.add(key)
            return
        parent = controller_of(obj) if obj is not None else None
        with self._lock:
            self._failed.discard(key)
            self._known[key] = (parent or _MISSING, now + self._ttl)
            K8S_METADATA_CACHED.labels("owners").set(len(self._known))

    def retry_failed(self) -> None:
        """Ask again for parents a failed read left unknown, at most every few seconds.

        Called from the pod watcher's thread on every watch line (bookmarks included), so a pod
        added while the API answered badly still gets its Deployment once it answers again.
        """
        now = time.monotonic()
        if not self._failed or now < self._next_retry:
            return
        self._next_retry = now + RETRY_EVERY_S
        for namespace, kind, name in list(self._failed)[:RETRY_BATCH]:
            self._failed.discard((namespace, kind, name))
            self.resolve(namespace, Owner(kind, name))

    def _read(self, namespace: str, owner: Owner) -> dict[str, Any]:
        read: Callable[..., Any] = (
            self._apps.read_namespaced_replica_set
            if owner.kind == "ReplicaSet"
            else self._batch.read_namespaced_job
        )
        response = read(owner.name, namespace, _preload_content=False, _request_timeout=(5, 10))
        loaded: dict[str, Any] = json.loads(response.data)
        return loaded

    def forget_unused(self, used: set[tuple[str, str, str]]) -> None:
        """Drop answers no cached pod refers to, so the table stays the size of the node."""
        with self._lock:
            for key in [k for k in self._known if k not in used]:
                del self._known[key]
            K8S_METADATA_CACHED.labels("owners").set(len(self._known))
