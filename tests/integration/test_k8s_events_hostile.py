"""The Events source against hostile answers: the real kube-apiserver's own odd objects, and,
through a loopback proxy in front of it (``kube_fault_proxy``), what it cannot be made to say:
500 ten times, 429 with ``Retry-After``, 410 on every watch, a line that is not JSON, a stream
cut halfway through an Event.

Each case: every Event created before, during and after arrives exactly once, each fault is
counted under its own reason, the waits between attempts are those of the retry path (jittered,
never under half the step, never shorter than ``Retry-After``), so there is no hot loop.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from prometheus_client import REGISTRY

from logwax.connectors.k8s_events import KubernetesEventsSource, KubernetesEventsSourceConfig
from logwax.core import health
from logwax.core.record import Record
from tests.integration.brokers import Cluster
from tests.integration.flow_runs import read_partition
from tests.integration.kube_fault_proxy import Fault, FaultProxy, gaps_after
from tests.integration.kube_helpers import core_api, create_event

NAME = "events-hostile"
MIB = 1024 * 1024


@dataclass
class Case:
    proxy: FaultProxy
    core: client.CoreV1Api
    namespace: str
    part: Any


@pytest.fixture
def case(kube: Cluster, kube_namespace: str, tmp_path: Path) -> Iterator[Case]:
    health.reset()
    health.configure(grace=1.0)
    with FaultProxy(kube.kubeconfig) as proxy:
        settings = KubernetesEventsSourceConfig(
            type="kubernetes_events",
            name=NAME,
            kubeconfig=proxy.kubeconfig(tmp_path),
            namespaces=[kube_namespace],
            watch_timeout="2s",
            reconnect_backoff_max="2s",
        )
        part = KubernetesEventsSource(settings).build_part("s", NAME, None)
        try:
            yield Case(proxy, core_api(kube.kubeconfig), kube_namespace, part)
        finally:
            part.close()
    health.reset()


def counter(name: str, reason: str) -> float:
    labels = {"source": NAME, "reason": reason}
    return REGISTRY.get_sample_value(name, labels) or 0.0


def create(case: Case, prefix: str, count: int) -> list[str]:
    for i in range(count):
        create_event(case.core, case.namespace, f"{prefix}{i}")
    return [f"{prefix}{i} happened" for i in range(count)]


def through_fault(case: Case, *faults: Fault, timeout: float = 90) -> list[Record]:
    """Events before; the faults armed; Events during (once the first fault was taken, so
    they meet it); all read; Events after; all read. Returns what the source handed on."""
    expected = create(case, "before", 3)
    got = read_partition(case.part, 3, 30)
    case.proxy.arm(*faults)
    deadline = time.monotonic() + timeout
    while case.proxy.armed() == len(faults):
        assert time.monotonic() < deadline, "the source never called the API again"
        got.extend(case.part.next_batch())
        time.sleep(0.02)
    expected += create(case, "during", 3)
    while case.proxy.armed() or len(got) < len(expected):
        assert time.monotonic() < deadline, f"stuck: {len(got)} of {len(expected)} Events"
        got.extend(case.part.next_batch())
        time.sleep(0.02)
    expected += create(case, "after", 3)
    got.extend(read_partition(case.part, len(expected) - len(got), 30))
    got.extend(read_partition(case.part, 10**9, 1.5))
    assert sorted(r.message for r in got) == sorted(expected)
    assert len({r.event_id for r in got}) == len(got)
    return got


def test_the_api_answering_500_ten_times_is_retried_with_jittered_backoff(case: Case) -> None:
    before = counter("logwax_source_retries_total", "server_error")
    started = time.monotonic()
    through_fault(case, *[Fault("status", status=500)] * 10)
    retried = counter("logwax_source_retries_total", "server_error") - before
    gaps = gaps_after(case.proxy.seen, "status")
    per_minute = 10 / (case.proxy.faulted("status")[-1].at - case.proxy.seen[0].at) * 60
    print(
        f"\n500 x10: gaps {[round(g, 2) for g in gaps]}s, {per_minute:.0f} attempts/min, "
        f"{time.monotonic() - started:.1f}s in all"
    )
    assert retried == 10
    assert min(gaps) >= 0.24  # the first step is 0.5 s, never under half of it
    assert len({round(g, 2) for g in gaps}) >= 5  # jitter: not one fixed period
    assert max(gaps) <= 2.5  # capped at reconnect_backoff_max (2 s), plus the call itself


def test_429_with_retry_after_is_waited_for(case: Case) -> None:
    before = counter("logwax_source_retries_total", "throttled")
    through_fault(case, Fault("status", status=429, retry_after=3))
    (gap,) = gaps_after(case.proxy.seen, "status")
    print(f"\n429 Retry-After 3: next request {gap:.2f}s later")
    assert counter("logwax_source_retries_total", "throttled") - before == 1
    assert gap >= 2.95  # longer than the 2 s backoff cap: the server's word counts


def test_410_on_every_watch_lists_again_then_backs_off(case: Case) -> None:
    relists = counter("logwax_source_errors_total", "gone_relist")
    retried = counter("logwax_source_retries_total", "gone")
    through_fault(case, *[Fault("gone")] * 5)
    gaps = gaps_after(case.proxy.seen, "gone")
    print(f"\n410 x5: from each Gone to the next call {[round(g, 2) for g in gaps]}s")
    assert counter("logwax_source_errors_total", "gone_relist") - relists == 5
    # the first 410 lists again at once; each one after it waits for the retry path first
    assert counter("logwax_source_retries_total", "gone") - retried == 4
    assert sum(gaps[1:]) >= 0.25 + 0.5 + 1.0 + 1.0  # half of each step (0.5, 1, 2, 2 s)
    assert gaps[-1] > gaps[1]  # growing: the streak is not forgotten by the lists between


def test_a_non_json_line_on_the_watch_is_watched_again_from_the_last_version(
    case: Case,
) -> None:
    before = counter("logwax_source_retries_total", "unparseable_watch_line")
    through_fault(case, Fault("garbage"))
    assert counter("logwax_source_retries_total", "unparseable_watch_line") - before == 1


def test_a_watch_cut_halfway_through_an_event_is_watched_again_without_loss(
    case: Case,
) -> None:
    before = counter("logwax_source_retries_total", "connection")
    through_fault(case, Fault("cut"))
    assert counter("logwax_source_retries_total", "connection") - before >= 1


def test_a_list_answer_that_is_not_an_event_list_is_retried(case: Case) -> None:
    """A 410 makes the source list again; that list is answered 200 with a Status object."""
    before = counter("logwax_source_retries_total", "unparseable_answer")
    restarts = REGISTRY.get_sample_value("logwax_source_restarts_total", {"source": NAME}) or 0
    through_fault(case, Fault("gone"), Fault("status", status=200))
    assert counter("logwax_source_retries_total", "unparseable_answer") - before == 1
    now = REGISTRY.get_sample_value("logwax_source_restarts_total", {"source": NAME}) or 0
    assert now == restarts  # retried, not a thread that ended


def test_an_event_of_1_mib_and_events_with_missing_fields_or_unknown_kinds(case: Case) -> None:
    namespace = case.namespace
    got = read_partition(case.part, 10**9, 1)
    big = "b" * MIB
    case.core.create_namespaced_event(
        namespace,
        {
            "metadata": {"name": "big"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": namespace},
            "message": big,
        },
    )
    bare = {"metadata": {"name": "bare"}, "involvedObject": {"namespace": namespace}}
    case.core.create_namespaced_event(namespace, bare)
    strange = {
        "metadata": {"name": "strange"},
        "involvedObject": {
            "kind": "Frobnicator",
            "apiVersion": "example.test/v9",
            "name": "f",
            "namespace": namespace,
        },
        "type": "NotAType",
        "reason": "",
        "count": 0,
    }
    case.core.create_namespaced_event(namespace, strange)
    expected = create(case, "after", 3)
    got += read_partition(case.part, 6, 60)
    got += read_partition(case.part, 10**9, 1.5)
    by_name = {r.fields["kubernetes"]["event"]["name"]: r for r in got}
    assert sorted(by_name) == sorted(["big", "bare", "strange", "after0", "after1", "after2"])
    assert len(got) == 6 and len({r.event_id for r in got}) == 6
    assert by_name["big"].message == big
    assert by_name["bare"].message == "" and by_name["bare"].stream == f"{namespace}//"
    assert by_name["strange"].stream == f"{namespace}/Frobnicator/f"
    assert sorted(r.message for r in got if r.message.startswith("after")) == sorted(expected)
