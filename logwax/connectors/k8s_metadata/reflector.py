"""List, then watch, one kind of object in a background thread, keeping a local copy current.

The reading path of the files source only looks at the copy, so it never waits on the API. The
watch resumes from the last resourceVersion seen (bookmarks included), so a watch the server ends
after its timeout costs no re-list. When that version fell out of the server's history (410
Gone), the whole set is listed again at once, in pages so a node with thousands of pods never
holds one huge response; a 410 again before a watch has worked (a server that keeps answering
Gone) waits out the backoff like any failure, so a streak never becomes a hot list loop. A
throttled answer waits as long as its ``Retry-After`` asks. Every restart is counted by reason.

Failed calls go through the sources' retry path (``core.retry``): capped backoff with jitter, a
WARNING with the server's reason, ``logwax_source_retries_total``, and the cache marked failing
for ``/readyz`` after the grace. The thread itself runs under the sources' supervisor: a bug in
a store or an answer nobody foresaw ends the thread, which is seen at once (``logwax_source_up``
0, ``/readyz`` names it) and restarted from the last version applied, so the pods already
cached stay and no re-list is needed; the same failure ``MAX_FAILURES`` times in a row exits
the process non-zero, since enrichment that silently stopped would tag every later line wrong.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines
from urllib3.exceptions import HTTPError

from logwax.connectors.kubernetes_api import classify
from logwax.core.metrics import K8S_METADATA_WATCH_RESTARTS
from logwax.core.retry import Retrier
from logwax.core.supervisor import MAX_FAILURES, Supervised, exit_process

log = logging.getLogger(__name__)
PAGE = 500


class Store(Protocol):
    """What a reflector keeps current."""

    def replace(self, objects: Iterable[dict[str, Any]]) -> int:
        """The full set after a (re)list, as it is read; objects not in it are gone. Returns
        how many there were."""

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        """One watch change: ADDED, MODIFIED or DELETED."""

    def tick(self) -> None:
        """Any watch line arrived (a bookmark too): time for deferred work."""


def source_name(resource: str) -> str:
    """How the reflector of ``resource`` is named in ``logwax_source_up`` and on ``/readyz``."""
    return f"kubernetes_metadata/{resource}"


class Reflector:
    """One resource (``resource`` names it in logs and metrics), one supervised daemon thread.

    ``version`` is the resourceVersion of the last change applied to the store (None: list
    first); it lives on the object so that a restarted thread carries on from it.
    """

    def __init__(
        self,
        resource: str,
        list_function: Callable[..., Any],
        kwargs: dict[str, Any],
        store: Store,
        watch_timeout_s: float,
        backoff_max_s: float,
        *,
        max_failures: int = MAX_FAILURES,
        give_up: Callable[[str, str], None] = exit_process,
    ) -> None:
        self.resource = resource
        self.version: str | None = None
        self.synced = threading.Event()
        self._list_function = list_function
        self._kwargs = kwargs
        self._store = store
        self._timeout = max(1, int(watch_timeout_s))
        self._stopped = threading.Event()
        self._response: Any = None
        self._gone = 0  # 410s since the last watch that delivered or ran its course
        name = source_name(resource)
        self._retry = Retrier(name, self._stopped, maximum=backoff_max_s)
        self._supervised = Supervised(
            name,
            f"k8s-{resource}",
            self._run,
            self._stopped,
            max_failures=max_failures,
            give_up=give_up,
        )

    def start(self) -> None:
        self._supervised.start()

    def stop(self) -> None:
        """End the thread; a watch blocked in a read is woken by shutting its socket down.

        Closing the response from here would wait for the TLS lock the reading thread holds,
        which is what the official client's own ``Watch.stop`` works around the same way.
        """
        self._stopped.set()
        connection = getattr(self._response, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._supervised.thread.join(timeout=5)

    def _run(self) -> None:
        """Supervised: whatever escapes here ends the thread and is restarted from ``version``."""
        while not self._stopped.is_set():
            try:
                if self.version is None:
                    self.version = self._list()
                    if not self._gone:  # after a 410 only a watch that works ends the streak
                        self._retry.succeeded()
                self._watch(self.version)
                self._watch_worked()
                self._restarted("expired")
            except ApiException as exc:
                self._api_failed(exc)
            except (HTTPError, OSError, ValueError, KeyError) as exc:
                self._failed("connection", exc)

    def _restarted(self, reason: str) -> None:
        K8S_METADATA_WATCH_RESTARTS.labels(self.resource, reason).inc()

    def _api_failed(self, exc: ApiException) -> None:
        """A 410 lists again: at once the first time, after the backoff while a streak lasts.
        Any other answer waits out the backoff, or the server's ``Retry-After``."""
        if exc.status == 410:
            self._restarted("gone")
            log.info("resource=%s version %s gone; listing again", self.resource, self.version)
            self.version = None
            self._gone += 1
            if self._gone == 1:
                return
        else:
            self._restarted("api_error")
        if self._stopped.is_set():
            return
        reason, detail, retry_after = classify(exc)
        self._retry.failed(reason, f"list/watch of {self.resource}: {detail}", retry_after)

    def _watch_worked(self) -> None:
        """A watch delivered, or ran until its timeout: a streak of 410s is over."""
        if self._gone:
            self._gone = 0
            self._retry.succeeded()

    def _failed(self, reason: str, exc: Exception) -> None:
        if self._stopped.is_set():
            return
        self._restarted(reason)
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self._retry.failed(reason, f"list/watch of {self.resource}: {detail}")

    def _list(self) -> str:
        """Every object, in pages; returns the version to watch from.

        The store takes the pages as they come, so only one page of raw JSON is alive at a
        time: holding all 5,000 pods of a node as parsed JSON before keeping the few fields
        that matter cost more than the whole cache.
        """
        version = [""]

        def pages() -> Iterator[dict[str, Any]]:
            token: str | None = None
            for _page in range(100_000):  # bounded: 50 million objects is past any node
                kwargs: dict[str, Any] = {"limit": PAGE, **self._kwargs}
                if token:
                    kwargs["_continue"] = token
                response = self._list_function(
                    _preload_content=False, _request_timeout=(5, 60), **kwargs
                )
                listed = json.loads(response.data)
                version[0] = listed["metadata"].get("resourceVersion") or version[0]
                token = listed["metadata"].get("continue")
                items = listed.get("items") or []
                del listed, response
                yield from items
                if not token:
                    return

        count = self._store.replace(pages())
        self.synced.set()
        log.info("resource=%s listed %d at version %s", self.resource, count, version[0])
        return version[0]

    def _watch(self, version: str) -> None:
        """Follow changes from ``version`` until the server ends the watch; ``self.version``
        follows every change applied, so a failure mid-watch resumes after the last one."""
        response = self._list_function(
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=self._timeout,
            _preload_content=False,
            _request_timeout=(5, self._timeout + 30),
            **self._kwargs,
        )
        self._response = response
        if not self._gone:  # the server accepted the watch: no longer failing
            self._retry.succeeded()
        try:
            for line in iter_resp_lines(response):
                if self._stopped.is_set():
                    break
                if not line or line.isspace():
                    continue
                change = json.loads(line)
                kind, obj = change.get("type"), change.get("object") or {}
                if kind == "ERROR":
                    raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                self._watch_worked()
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    self._store.apply(kind, obj)
                self.version = obj["metadata"].get("resourceVersion") or self.version
                self._store.tick()
        finally:
            self._response = None
            response.close()
            response.release_conn()
