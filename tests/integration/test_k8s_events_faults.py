"""The Events source against a real kube-apiserver while its access breaks and comes back.

Each case: every Event version created before, during and after the fault arrives exactly once,
``/readyz`` answered 503 naming the source while it could not read, and delivery resumed once
the fault ended (the RBAC case prints how many seconds that took).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from logwax.connectors.k8s_events import KubernetesEventsSource, KubernetesEventsSourceConfig
from logwax.core import health, observability
from logwax.core.record import Record
from tests.integration.brokers import Cluster
from tests.integration.flow_runs import read_partition
from tests.integration.kube_access import (
    VERBS,
    Access,
    grant,
    recreate_account,
    revoke_token,
    set_verbs,
    wait_status,
)
from tests.integration.kube_helpers import (
    compact_etcd,
    core_api,
    create_events,
    delete_namespace_now,
)

NAME = "events-faults"


@pytest.fixture
def access(kube: Cluster, kube_namespace: str, tmp_path: Path) -> Iterator[Access]:
    health.reset()
    health.configure(grace=1.0)
    yield grant(kube.kubeconfig, kube_namespace, tmp_path)
    health.reset()


def build(access: Access, version: str | None) -> Any:
    source = KubernetesEventsSource(
        KubernetesEventsSourceConfig(
            type="kubernetes_events",
            name=NAME,
            kubeconfig=access.kubeconfig,
            namespaces=[access.namespace],
            watch_timeout="5s",
        )
    )
    return source.build_part("s", NAME, version)


def retries(reason: str) -> float:
    labels = {"source": NAME, "reason": reason}
    return REGISTRY.get_sample_value("logwax_source_retries_total", labels) or 0.0


def not_ready_while(part: Any, got: list[Record], failing: Callable[[], bool]) -> str:
    """Keep reading while waiting (max 20 s) for the fault to show on /readyz; its answer."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got.extend(part.next_batch())
        problems = observability.readiness(3600, now=time.time())
        mine = [p for p in problems if f"source {NAME}" in p]
        if failing() and mine:
            return mine[0]
        time.sleep(0.1)
    raise AssertionError(f"/readyz never named {NAME}: {observability.readiness(3600)}")


def first_delivery(part: Any, got: list[Record], timeout: float = 40) -> float:
    """Seconds until the next record arrives."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        batch = part.next_batch()
        if batch:
            got.extend(batch)
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"nothing delivered within {timeout}s after the fault ended")


def events(core: Any, namespace: str, prefix: str, count: int) -> list[str]:
    return create_events(core, namespace, prefix, range(count))


def assert_once(got: list[Record], expected: list[str]) -> None:
    assert sorted(r.message for r in got) == sorted(expected)
    assert len({r.event_id for r in got}) == len(got)


def read_the_rest(part: Any, got: list[Record], expected: list[str], timeout: float) -> None:
    """Until every expected Event came (or ``timeout``), then whatever else comes in a moment:
    a duplicate would."""
    got.extend(read_partition(part, len(expected) - len(got), timeout))
    got.extend(read_partition(part, 10**9, 1.5))


def test_list_revoked_during_the_relist_after_410_then_restored(
    kube: Cluster, access: Access
) -> None:
    core = core_api(kube.kubeconfig)
    expected = events(core, access.namespace, "before", 5)
    part = build(access, None)
    try:
        got = read_partition(part, 5, 30)
        version = part.snapshot()
    finally:
        part.close()
    expected += events(core, access.namespace, "stopped", 3)
    compact_etcd(kube.etcd_url)  # the saved version is history: the watch answers 410
    set_verbs(access, ("get", "watch"))
    wait_status(access, "list", 403)
    forbidden = retries("forbidden")

    revoked = time.monotonic()
    resumed = build(access, version)
    try:
        answer = not_ready_while(resumed, got, lambda: retries("forbidden") > forbidden)
        expected += events(core, access.namespace, "during", 2)
        # the role lacks list for 15 s, as in the routine RBAC change this test replays
        got.extend(read_partition(resumed, 10**9, max(1.0, 15 - (time.monotonic() - revoked))))
        assert len(got) == 5  # nothing could be listed yet
        set_verbs(access, VERBS)
        seconds = first_delivery(resumed, got)
        print(f"\nRBAC list restored -> first Event delivered: {seconds:.1f}s")
        got.extend(read_partition(resumed, len(expected) - len(got), 30))
        expected += events(core, access.namespace, "after", 2)
        read_the_rest(resumed, got, expected, 30)
        ready = [p for p in observability.readiness(3600) if NAME in p]
    finally:
        resumed.close()
    assert "forbidden" in answer and "list" in answer, answer
    assert_once(got, expected)
    assert ready == []
    assert seconds < 10


def across_a_fault(
    kube: Cluster,
    access: Access,
    reason: str,
    break_access: Callable[[], None],
    refused: tuple[str, int],
    mend_access: Callable[[], None],
    timeout: float,
    wait_first_delivery: bool = False,
) -> tuple[str, list[Record], list[str]]:
    """Events before, during and after one access fault, read by one open partition.

    The fault counts once the API refuses ``refused`` (verb, status) and ``/readyz`` names the
    source with ``reason`` retried; ``wait_first_delivery`` first waits for the next record
    after the mend (when one is still owed). Gives ``/readyz``'s answer, what was read and
    what should have been, for the caller's assertions."""
    core = core_api(kube.kubeconfig)
    expected = events(core, access.namespace, "before", 4)
    part = build(access, None)
    try:
        got = read_partition(part, 4, 30)
        before = retries(reason)
        break_access()
        wait_status(access, *refused)
        expected += events(core, access.namespace, "during", 3)
        # the open watch ends within watch_timeout; its successor is refused
        answer = not_ready_while(part, got, lambda: retries(reason) > before)
        mend_access()
        if wait_first_delivery and len(got) < len(expected):
            first_delivery(part, got)
        expected += events(core, access.namespace, "after", 3)
        read_the_rest(part, got, expected, timeout)
    finally:
        part.close()
    return answer, got, expected


def test_watch_revoked_then_restored(kube: Cluster, access: Access) -> None:
    answer, got, expected = across_a_fault(
        kube,
        access,
        "forbidden",
        lambda: set_verbs(access, ("get", "list")),
        ("watch", 403),
        lambda: set_verbs(access, VERBS),
        timeout=30,
        wait_first_delivery=True,
    )
    assert "forbidden" in answer, answer
    assert_once(got, expected)


def test_token_revoked_then_replaced_is_read_again_without_a_restart(
    kube: Cluster, access: Access
) -> None:
    answer, got, expected = across_a_fault(
        kube,
        access,
        "unauthorized",
        lambda: revoke_token(access),
        ("list", 401),
        lambda: recreate_account(access),  # kubelet writes a new token into the projected file
        timeout=40,
    )
    assert "unauthorized" in answer, answer
    assert_once(got, expected)


def test_namespace_deleted_and_recreated_is_warned_about_and_followed_again(
    kube: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core = core_api(kube.kubeconfig)
    namespace = f"gone-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": namespace}})
    health.reset()
    labels = {"component": f"source {NAME}", "what": f"namespace {namespace}"}
    part = KubernetesEventsSource(
        KubernetesEventsSourceConfig(
            type="kubernetes_events",
            name=NAME,
            kubeconfig=kube.kubeconfig,
            namespaces=[namespace],
            watch_timeout="2s",
        )
    ).build_part("s", NAME, None)
    try:
        expected = events(core, namespace, "before", 4)
        got = read_partition(part, 4, 30)
        with caplog.at_level(logging.WARNING, logger="logwax.core.health"):
            delete_namespace_now(core, namespace)
            deadline = time.monotonic() + 20
            while REGISTRY.get_sample_value("logwax_dependency_missing", labels) != 1:
                assert time.monotonic() < deadline, "the missing namespace was never reported"
                got.extend(part.next_batch())
                time.sleep(0.1)
        warned = [r.getMessage() for r in caplog.records if namespace in r.getMessage()]
        core.create_namespace({"metadata": {"name": namespace}})
        expected += events(core, namespace, "after", 4)
        got.extend(read_partition(part, 4, 30))
        got.extend(read_partition(part, 10**9, 3))
        back = REGISTRY.get_sample_value("logwax_dependency_missing", labels)
    finally:
        part.close()
        with contextlib.suppress(Exception):
            delete_namespace_now(core, namespace)
    assert len(warned) == 1 and "does not exist" in warned[0], warned
    assert_once(got, expected)
    assert back == 0
