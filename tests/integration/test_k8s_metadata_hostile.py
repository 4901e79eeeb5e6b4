"""The metadata cache's pods watch against answers the real API server cannot be made to give,
through the loopback fault proxy (``kube_fault_proxy``) in front of it: a 429 with
``Retry-After`` longer than the backoff cap is waited for in full, and a server that answers
every watch with 410 Gone is listed again at once only the first time, then with a growing
backoff, so a streak never becomes a hot list loop. Pods created during the faults still reach
the cache.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from prometheus_client import REGISTRY

from logwax.connectors.k8s_metadata.reflector import Reflector, source_name
from logwax.connectors.kubernetes_api import api_client
from logwax.core import health
from tests.integration.brokers import Cluster
from tests.integration.kube_fault_proxy import Fault, FaultProxy, gaps_after
from tests.integration.kube_pods import NamesStore, api, make_pod, prepare_namespace

SOURCE = source_name("pods")
BACKOFF_MAX_S = 1.0


@dataclass
class Case:
    proxy: FaultProxy
    core: client.CoreV1Api
    namespace: str
    node: str
    store: NamesStore


@pytest.fixture
def case(kube: Cluster, kube_namespace: str, tmp_path: Path) -> Iterator[Case]:
    health.reset()
    core = client.CoreV1Api(api(kube.kubeconfig))
    prepare_namespace(core, kube_namespace, {"team": "a"})
    node = f"node-hostile-{uuid.uuid4().hex[:6]}"
    store = NamesStore()
    with FaultProxy(kube.kubeconfig, resource="pods") as proxy:
        through = client.CoreV1Api(api_client(proxy.kubeconfig(tmp_path), None))
        watcher = Reflector(
            "pods",
            through.list_pod_for_all_namespaces,
            {"field_selector": f"spec.nodeName={node}"},
            store,
            2,
            BACKOFF_MAX_S,
        )
        watcher.start()
        try:
            wait("the first list", watcher.synced.is_set)
            yield Case(proxy, core, kube_namespace, node, store)
        finally:
            watcher.stop()
    health.reset()


def wait(what: str, condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def retries(reason: str) -> float:
    labels = {"source": SOURCE, "reason": reason}
    return REGISTRY.get_sample_value("logwax_source_retries_total", labels) or 0.0


def restarts(reason: str) -> float:
    labels = {"resource": "pods", "reason": reason}
    return (
        REGISTRY.get_sample_value("logwax_kubernetes_metadata_watch_restarts_total", labels) or 0.0
    )


def through_faults(case: Case, *faults: Fault) -> None:
    """The faults armed; a pod created once the first was taken; it reaches the cache after."""
    case.proxy.arm(*faults)
    wait("the first fault taken", lambda: case.proxy.armed() < len(faults))
    make_pod(case.core, case.namespace, "during", case.node, {"app": "a"})
    wait("every fault taken", lambda: case.proxy.armed() == 0)
    wait("the pod created during the faults", lambda: "during" in case.store.names)


def test_429_with_retry_after_longer_than_the_backoff_cap_is_waited_for(case: Case) -> None:
    before = retries("throttled")
    through_faults(case, Fault("status", status=429, retry_after=3))
    (gap,) = gaps_after(case.proxy.seen, "status")
    print(f"\npods 429 Retry-After 3: next request {gap:.2f}s later")
    assert retries("throttled") - before == 1
    assert gap >= 2.95  # the backoff cap is 1 s: the server's word counts


def test_410_on_every_watch_lists_at_once_first_then_backs_off(case: Case) -> None:
    gone, retried, lists = restarts("gone"), retries("gone"), case.store.lists
    through_faults(case, *[Fault("gone")] * 5)
    wait("the list after the last Gone", lambda: case.store.lists - lists >= 5)
    gaps = gaps_after(case.proxy.seen, "gone")
    print(f"\npods 410 x5: from each Gone to the next call {[round(g, 2) for g in gaps]}s")
    assert restarts("gone") - gone == 5
    assert len(gaps) == 5
    # the first 410 lists again at once; each one after it waits for the retry path first
    assert retries("gone") - retried == 4
    assert gaps[0] < 0.5
    assert sum(gaps[1:]) >= 0.25 + 0.5 + 0.5 + 0.5  # half of each step (0.5, 1, 1, 1 s)
