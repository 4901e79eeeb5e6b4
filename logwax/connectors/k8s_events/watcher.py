"""List, then watch, Kubernetes Events in a background thread feeding a bounded queue.

The watch is a blocking HTTP stream, so it runs off the dataflow's thread: ``next_batch`` only
drains the queue and never waits. Order is kept end to end, and the queue also carries the
resourceVersions of bookmarks, so the source's resume point moves only with what it handed on.

On 410 Gone (the resume point fell out of the server's history) the watcher lists again and
hands on only the Events whose resourceVersion is newer than the last one it had passed on:
nothing the flow already emitted comes again, nothing changed during the gap is lost. A 410
again on the watch that follows the re-list (a server that keeps answering Gone) is waited for
through the retry path, so such a server is not asked in a loop.

A watch line that is not JSON (a proxy's garbage, a stream cut and spliced) ends the watch
through the retry path and it is opened again from the last version handed on: the Event the
line may have been comes again from the server, and nothing after it is skipped.
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from logwax.connectors import kubernetes_api
from logwax.connectors.k8s_events.config import KubernetesEventsSourceConfig
from logwax.connectors.k8s_events.events import last_seen_ns, resource_version_number
from logwax.connectors.kubernetes_api import classify
from logwax.core import health
from logwax.core.metrics import SOURCE_ERRORS
from logwax.core.retry import Retrier
from logwax.core.supervisor import Supervised

log = logging.getLogger(__name__)
QUEUE_ITEMS = 10_000
LIST_TIMEOUT = 60  # seconds; a list hung longer than health.HUNG_AFTER shows on /readyz first


class WatchItem(NamedTuple):
    resource_version: str
    event: dict[str, Any] | None  # None: only a new resume point (bookmark, deletion, list end)


def api_client(settings: KubernetesEventsSourceConfig) -> client.ApiClient:
    return kubernetes_api.api_client(settings.kubeconfig, settings.context)


class EventWatcher:
    """The list/watch loop, supervised, every call through one retry path.

    ``version`` is the resourceVersion of the last item put on the queue and ``relist`` says a
    410 asked for a new list: both live on the object, so a failed call, a retry or a restart
    of the thread carries on from exactly what was handed on, never from further.
    """

    def __init__(
        self,
        settings: KubernetesEventsSourceConfig,
        connect: Callable[[], client.ApiClient],
        resume_version: str | None,
    ) -> None:
        self.items: queue.Queue[WatchItem] = queue.Queue(maxsize=QUEUE_ITEMS)
        self._settings = settings
        self._connect = connect
        self._core = client.CoreV1Api(connect())
        self._name = settings.name
        self.version = resume_version
        self.relist = False
        self._gone = 0  # 410s since the last watch that delivered or ran its course
        self._stopped = threading.Event()
        self._watch = watch.Watch()
        self._retry = Retrier(
            self._name, self._stopped, maximum=settings.reconnect_backoff_max.total_seconds()
        )
        self._supervised = Supervised(self._name, f"events-{self._name}", self._run, self._stopped)

    def start(self) -> None:
        self._supervised.start()

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
        while not self._stopped.is_set():
            try:
                self._step()
            except ApiException as exc:
                self._api_failed(exc)
            except (HTTPError, OSError) as exc:
                self._retry.failed("connection", f"{type(exc).__name__}: {exc}")
            except ValueError as exc:  # an answer that is not what the API promises
                self._retry.failed("unparseable_answer", f"{type(exc).__name__}: {exc}")

    def _step(self) -> None:
        """One list (first start, or after 410) or one watch until the server ends it."""
        if self.version is None or self.relist:
            self.version = self._list(after=self.version)
            self.relist = False
            if not self._gone:  # after a 410 only a watch that works ends the streak
                self._retry.succeeded()
        self._check_namespaces()
        self._follow()

    def _check_namespaces(self) -> None:
        """The server lets us watch a namespace that does not exist, silently: say it is not
        there (once per watch, so a WARNING at start and again while it lasts)."""
        for namespace in self._settings.namespaces:
            try:
                self._core.read_namespace(namespace, _request_timeout=10)
                missing = False
            except ApiException as exc:
                if exc.status != 404:
                    return  # not allowed to look (403) or a passing failure: nothing to say
                missing = True
            health.dependency(
                f"source {self._name}",
                f"namespace {namespace}",
                missing,
                "Its Events are read once it is created; check the source's namespaces.",
            )

    def _api_failed(self, exc: ApiException) -> None:
        if exc.status == 410 and not self.relist:
            SOURCE_ERRORS.labels(self._name, "gone_relist").inc()
            log.info("source=%s resourceVersion %s gone; listing again", self._name, self.version)
            self.relist = True
            self._gone += 1
            if self._gone == 1:
                return  # the first: list again at once
        reason, detail, retry_after = classify(exc)
        if exc.status == 401:  # a rotated token: read the credentials again before retrying
            self._core = client.CoreV1Api(self._connect())
        self._retry.failed(reason, detail, retry_after)

    def _follow(self) -> None:
        """Watch from ``version`` until the server ends the watch."""
        function, kwargs = self._list_function()
        version = self.version

        @functools.wraps(function)
        def opened(*args: Any, **call_kwargs: Any) -> Any:
            response = function(*args, **call_kwargs)
            if not self._gone:  # the server accepted the watch: no longer failing
                self._retry.succeeded()
            return response

        timeout = int(self._settings.watch_timeout.total_seconds())
        for change in self._watch.stream(
            opened,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout,
            _request_timeout=timeout + 30,
            **kwargs,
        ):
            if not isinstance(change, dict):  # the client yields None for a non-JSON line
                detail = f"a watch line that is not JSON after resourceVersion {self.version}"
                self._retry.failed("unparseable_watch_line", detail)
                return  # watched again from the last version handed on
            self._watch_worked()
            obj = change["raw_object"]
            kind = change["type"]
            wanted = kind in ("ADDED", "MODIFIED") and self._wanted(obj)
            self._hand_on(WatchItem(obj["metadata"]["resourceVersion"], obj if wanted else None))
            if self._stopped.is_set():
                break
        self._watch_worked()
        SOURCE_ERRORS.labels(self._name, "watch_reconnect").inc()

    def _watch_worked(self) -> None:
        """A watch delivered, or ran until its timeout: a streak of 410s is over."""
        if self._gone:
            self._gone = 0
            self._retry.succeeded()

    def _hand_on(self, item: WatchItem) -> None:
        self.items.put(item)
        self.version = item.resource_version

    def _list(self, after: str | None) -> str:
        """List every Event; hand on the new ones. ``after`` None means a first start."""
        function, kwargs = self._list_function()
        with health.in_flight(f"source {self._name}", "list Events"):
            response = function(_preload_content=False, _request_timeout=LIST_TIMEOUT, **kwargs)
            listed = json.loads(response.data)
        metadata = listed.get("metadata") if isinstance(listed, dict) else None
        items = (listed.get("items") or []) if isinstance(listed, dict) else None
        if not isinstance(metadata, dict) or not metadata.get("resourceVersion"):
            raise ValueError(f"a list answer that is not an EventList: {response.data[:200]!r}")
        if not isinstance(items, list) or not all(isinstance(e, dict) for e in items):
            raise ValueError(f"a list answer whose items are not Events: {response.data[:200]!r}")
        events = [e for e in items if self._wanted(e)]
        events.sort(key=lambda e: resource_version_number(e) or 0)
        threshold = int(after) if after is not None and after.isdigit() else None
        oldest_ns = (time.time() - self._settings.max_event_age.total_seconds()) * 1e9
        for event in events:
            number = resource_version_number(event)
            if after is None and last_seen_ns(event) < oldest_ns:
                continue
            if threshold is not None and number is not None and number <= threshold:
                continue
            self._hand_on(WatchItem(event["metadata"]["resourceVersion"], event))
        version = str(metadata["resourceVersion"])
        self._hand_on(WatchItem(version, None))
        return version
