"""The metadata cache's watch thread under the sources' supervisor, against the real API server.

A store that raises on one pod stands for whatever bug or unforeseen answer ends the thread:
the death is seen at once (``logwax_source_up`` 0, ``/readyz`` names the reflector and the
error), the thread is restarted from the last version applied (no re-list, the cached pods
stay, the pod that failed is applied on the retry), and a failure that comes back every time
ends in the give-up path, which in a process is ``exit_process`` (exit 70).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from prometheus_client import REGISTRY

from logwax.connectors.k8s_metadata.reflector import Reflector, source_name
from logwax.core import health, observability
from tests.integration.brokers import Cluster
from tests.integration.kube_pods import NamesStore, api, make_pod, prepare_namespace

SOURCE = source_name("pods")


class PoisonedStore(NamesStore):
    """Keeps pod names; ``apply`` raises on a pod named ``poison*`` while ``poison_left`` > 0."""

    def __init__(self, poison_left: int) -> None:
        super().__init__()
        self.poison_left = poison_left

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if name.startswith("poison") and self.poison_left > 0:
            self.poison_left -= 1
            raise RuntimeError(f"store bug on pod {name}")
        super().apply(kind, obj)


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"source": SOURCE}) or 0.0


@pytest.fixture
def node(kube: Cluster, kube_namespace: str) -> Iterator[tuple[client.CoreV1Api, str]]:
    health.reset()
    core = client.CoreV1Api(api(kube.kubeconfig))
    prepare_namespace(core, kube_namespace, {"team": "a"})
    yield core, f"node-sup-{uuid.uuid4().hex[:6]}"
    health.reset()


def reflector(
    core: client.CoreV1Api, node: str, store: PoisonedStore, gave_up: list[tuple[str, str]]
) -> Reflector:
    return Reflector(
        "pods",
        core.list_pod_for_all_namespaces,
        {"field_selector": f"spec.nodeName={node}"},
        store,
        5,
        1.0,
        max_failures=3,
        give_up=lambda source, error: gave_up.append((source, error)),
    )


def wait(what: str, condition: Any, timeout: float = 30) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_dead_watch_thread_is_seen_and_restarted_from_its_version(
    node: tuple[client.CoreV1Api, str], kube_namespace: str
) -> None:
    core, node_name = node
    make_pod(core, kube_namespace, "before", node_name, {"app": "a"})
    store = PoisonedStore(poison_left=1)
    gave_up: list[tuple[str, str]] = []
    restarts = sample("logwax_source_restarts_total")
    watcher = reflector(core, node_name, store, gave_up)
    watcher.start()
    try:
        wait("the first list", watcher.synced.is_set)
        make_pod(core, kube_namespace, "poison-once", node_name, {"app": "a"})
        wait("the thread to be seen down", lambda: sample("logwax_source_up") == 0)
        said = [p for p in observability.readiness(3600) if SOURCE in p]
        seconds = wait(
            "the poisoned pod applied on the retry", lambda: "poison-once" in store.names
        )
        make_pod(core, kube_namespace, "after", node_name, {"app": "a"})
        wait("a pod created after the restart", lambda: "after" in store.names)
    finally:
        watcher.stop()
    print(f"\nthread restarted and the failed pod applied {seconds:.1f}s after it was seen down")
    assert said and "is down (restarting): RuntimeError: store bug on pod poison-once" in said[0]
    assert store.names == {"before", "poison-once", "after"}
    assert store.lists == 1  # resumed from its version: no re-list
    assert sample("logwax_source_restarts_total") == restarts + 1
    assert sample("logwax_source_up") == 1
    assert gave_up == []


def test_a_failure_that_comes_back_every_time_gives_up_after_the_budget(
    node: tuple[client.CoreV1Api, str], kube_namespace: str
) -> None:
    core, node_name = node
    store = PoisonedStore(poison_left=10**6)
    gave_up: list[tuple[str, str]] = []
    watcher = reflector(core, node_name, store, gave_up)
    watcher.start()
    try:
        wait("the first list", watcher.synced.is_set)
        make_pod(core, kube_namespace, "poison-always", node_name, {"app": "a"})
        seconds = wait("the give-up after 3 failures", lambda: bool(gave_up), timeout=60)
        time.sleep(2)  # the thread stays ended: no restart after giving up
        ended = not watcher._supervised.thread.is_alive()
    finally:
        watcher.stop()
    print(f"\ngave up {seconds:.1f}s after the poisoned pod was created")
    assert gave_up == [(SOURCE, "RuntimeError: store bug on pod poison-always")]
    assert ended and store.poison_left == 10**6 - 3
