"""Creating, bumping and deleting Events through a real API server, as controllers do."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError


def core_api(kubeconfig: str) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(kubeconfig))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_event(core: client.CoreV1Api, namespace: str, name: str) -> Any:
    body = {
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {"kind": "Pod", "name": f"pod-{name}", "namespace": namespace},
        "reason": "Scheduled",
        "message": f"{name} happened",
        "type": "Normal",
        "count": 1,
        "firstTimestamp": now(),
        "lastTimestamp": now(),
        "source": {"component": "logwax-test"},
    }
    return core.create_namespaced_event(namespace, body)


class EventCreator(threading.Thread):
    """Creates Events ``{prefix}0`` .. ``{prefix}{total - 1}`` while a test does something else.

    An API server on a loaded machine may answer a create with a 429, a 5xx or a timeout; each
    is tried again (an Event the first try did create answers 409, and counts). Whatever still
    fails is kept in ``error``, so the test says why fewer Events exist instead of waiting for
    them to be delivered.
    """

    def __init__(self, core: client.CoreV1Api, namespace: str, prefix: str, total: int) -> None:
        super().__init__(daemon=True)
        self._core, self._namespace, self._prefix, self._total = core, namespace, prefix, total
        self.created = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for i in range(self._total):
                self._create(f"{self._prefix}{i}")
                self.created += 1
        except BaseException as exc:  # kept for the test to raise
            self.error = exc

    def _create(self, name: str) -> None:
        for attempt in range(20):
            try:
                create_event(self._core, self._namespace, name)
                return
            except ApiException as exc:
                if exc.status == 409:
                    return
                transient = exc.status == 429 or (exc.status or 0) >= 500
                if not transient or attempt == 19:
                    raise
            except HTTPError:
                if attempt == 19:
                    raise
            time.sleep(min(0.1 * 2**attempt, 2.0))

    def finished(self) -> None:
        """Joined; raises what stopped it before every Event was created."""
        self.join(timeout=600)
        assert not self.is_alive(), f"still creating Events after 600 s ({self.created} made)"
        if self.error is not None:
            raise AssertionError(
                f"only {self.created} of {self._total} Events created: {self.error!r}"
            ) from self.error


def create_events(
    core: client.CoreV1Api, namespace: str, prefix: str, numbers: Iterable[int]
) -> list[str]:
    """Events named ``{prefix}{number}``, one per number; the messages the source will read."""
    names = [f"{prefix}{i}" for i in numbers]
    for name in names:
        create_event(core, namespace, name)
    return [f"{name} happened" for name in names]


def bump_event(core: client.CoreV1Api, namespace: str, name: str, count: int) -> Any:
    """What the kubelet does when an event repeats: count and lastTimestamp change."""
    patch = {"count": count, "lastTimestamp": now(), "message": f"{name} happened x{count}"}
    return core.patch_namespaced_event(name, namespace, patch)


def compact_etcd(etcd_url: str) -> int:
    """Compact etcd's history up to now, so older resourceVersions answer 410 Gone."""

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{etcd_url}{path}", data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.load(response)
            return answer

    revision = int(post("/v3/kv/range", {"key": "AA=="})["header"]["revision"])
    post("/v3/kv/compaction", {"revision": str(revision), "physical": True})
    return revision


def delete_namespace_now(core: client.CoreV1Api, namespace: str) -> None:
    """What the namespace controller (not run by this API server) does: empty it, then finalize,
    so the name is free again at once."""
    core.delete_collection_namespaced_event(namespace)
    core.delete_namespace(namespace)
    core.replace_namespace_finalize(
        namespace,
        {"metadata": {"name": namespace}, "spec": {"finalizers": []}},
    )
