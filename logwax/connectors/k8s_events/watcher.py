"""List, then watch, Kubernetes Events in a background thread feeding a bounded queue.

The watch is a blocking HTTP stream, so it runs off the dataflow's thread: ``next_batch`` only
drains the queue and never waits. Order is kept end to end, and the queue also carries the
resourceVersions of bookmarks, so the source's resume point moves only with what it handed on.

On 410 Gone (the resume point fell out of the server's history) the watcher lists again and
hands on only the Events whose resourceVersion is newer than the last one it had passed on:
nothing the flow already emitted comes again, nothing changed during the gap is lost.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from logwax.connectors.k8s_events.config import KubernetesEventsSourceConfig
from logwax.connectors.k8s_events.events import last_seen_ns, resource_version_number
from logwax.core.metrics import SOURCE_ERRORS

log = logging.getLogger(__name__)
QUEUE_ITEMS = 10_000


class WatchItem(NamedTuple):
    resource_version: str
    event: dict[str, Any] | None  # None: only a new resume point (bookmark, deletion, list end)


def api_client(settings: KubernetesEventsSourceConfig) -> client.ApiClient:
    """kubeconfig if given, in-cluster inside a pod, else the user's default kubeconfig."""
    if settings.kubeconfig is not None:
        return config.new_client_from_config(str(settings.kubeconfig), context=settings.context)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    return config.new_client_from_config(context=settings.context)


class EventWatcher:
    def __init__(
        self,
        settings: KubernetesEventsSourceConfig,
        api: client.ApiClient,
        resume_version: str | None,
    ) -> None:
        self.items: queue.Queue[WatchItem] = queue.Queue(maxsize=QUEUE_ITEMS)
        self._settings = settings
        self._core = client.CoreV1Api(api)
        self._name = settings.name
        self._resume = resume_version
        self._stopped = threading.Event()
        self._watch = watch.Watch()
        self._backoff = 0.5
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"events-{self._name}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._watch.stop()

    # -- the API calls, for one namespace or all ----------------------------------------------
    def _list_function(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        namespaces = self._settings.namespaces
        if len(namespaces) == 1:
            return self._core.list_namespaced_event, {"namespace": namespaces[0]}
        return self._core.list_event_for_all_namespaces, {}

    def _wanted(self, event: dict[str, Any]) -> bool:
        namespaces = self._settings.namespaces
        return not namespaces or event.get("metadata", {}).get("namespace") in namespaces

    # -- the loop -------------------------------------------------------------------------------
    def _run(self) -> None:
        version = self._resume
        while not self._stopped.is_set():
            try:
                if version is None:
                    version = self._list(after=None)
                version = self._follow(version)
                self._backoff = 0.5
            except ApiException as exc:
                if exc.status == 410:
                    SOURCE_ERRORS.labels(self._name, "gone_relist").inc()
                    log.info(
                        "source=%s resourceVersion %s gone; listing again", self._name, version
                    )
                    version = self._list(after=version)
                else:
                    self._failed("api_error", exc)
            except (HTTPError, OSError, ValueError) as exc:
                self._failed("connection", exc)

    def _failed(self, reason: str, exc: Exception) -> None:
        SOURCE_ERRORS.labels(self._name, reason).inc()
        log.warning(
            "source=%s watch failed (%s): %s; retrying in %.1fs",
            self._name,
            reason,
            exc,
            self._backoff,
        )
        self._stopped.wait(self._backoff)
        self._backoff = min(self._backoff * 2, self._settings.reconnect_backoff_max.total_seconds())

    def _follow(self, version: str) -> str:
        """Watch from ``version`` until the server ends the watch; returns the last version."""
        function, kwargs = self._list_function()
        timeout = int(self._settings.watch_timeout.total_seconds())
        for change in self._watch.stream(
            function,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout,
            _request_timeout=timeout + 30,
            **kwargs,
        ):
            obj = change["raw_object"]
            version = obj["metadata"]["resourceVersion"]
            kind = change["type"]
            wanted = kind in ("ADDED", "MODIFIED") and self._wanted(obj)
            self.items.put(WatchItem(version, obj if wanted else None))
            if self._stopped.is_set():
                break
        SOURCE_ERRORS.labels(self._name, "watch_reconnect").inc()
        return version

    def _list(self, after: str | None) -> str:
        """List every Event; hand on the new ones. ``after`` None means a first start."""
        function, kwargs = self._list_function()
        response = function(_preload_content=False, **kwargs)
        listed = json.loads(response.data)
        events = [e for e in listed.get("items", []) if self._wanted(e)]
        events.sort(key=lambda e: resource_version_number(e) or 0)
        threshold = int(after) if after is not None and after.isdigit() else None
        oldest_ns = (time.time() - self._settings.max_event_age.total_seconds()) * 1e9
        for event in events:
            number = resource_version_number(event)
            if after is None and last_seen_ns(event) < oldest_ns:
                continue
            if threshold is not None and number is not None and number <= threshold:
                continue
            self.items.put(WatchItem(event["metadata"]["resourceVersion"], event))
        version = str(listed["metadata"]["resourceVersion"])
        self.items.put(WatchItem(version, None))
        return version
