"""The Kubernetes Events source against a real kube-apiserver backed by a real etcd."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from logwax.connectors.k8s_events import KubernetesEventsSource, KubernetesEventsSourceConfig
from logwax.core.record import Record
from tests.integration.brokers import Cluster
from tests.integration.flow_runs import opened_partition, read_partition
from tests.integration.kube_helpers import bump_event, compact_etcd, core_api, create_events


def source(kube: Cluster, namespace: str) -> KubernetesEventsSource:
    return KubernetesEventsSource(
        KubernetesEventsSourceConfig(
            type="kubernetes_events",
            name="events",
            kubeconfig=kube.kubeconfig,
            namespaces=[namespace],
            watch_timeout="5s",
        )
    )


def opened(kube: Cluster, namespace: str, resume: Any) -> Any:
    return opened_partition(source(kube, namespace), "events", resume)


def read(part: Any, want: int, timeout: float = 30) -> list[Record]:
    return read_partition(part, want, timeout)


def relists() -> float:
    labels = {"source": "events", "reason": "gone_relist"}
    return REGISTRY.get_sample_value("logwax_source_errors_total", labels) or 0.0


def settle(part: Any, seconds: float = 1.5) -> list[Record]:
    """Whatever else arrives in a while (to show nothing unexpected does)."""
    return read(part, 10**9, timeout=seconds)


def test_list_then_watch_updates_and_deletes_then_resume(
    kube: Cluster, kube_namespace: str
) -> None:
    core = core_api(kube.kubeconfig)
    create_events(core, kube_namespace, "ev", range(20))
    with opened(kube, kube_namespace, None) as part:
        listed = read(part, 20)
        for i in range(5):  # count bumps are new observations with their own ids
            bump_event(core, kube_namespace, f"ev{i}", count=2)
        for i in range(15, 18):  # deletions are not events of interest
            core.delete_namespaced_event(f"ev{i}", kube_namespace)
        updates = read(part, 5) + settle(part)
        version = part.snapshot()
    assert sorted(r.message for r in listed) == sorted(f"ev{i} happened" for i in range(20))
    assert sorted(r.message for r in updates) == sorted(f"ev{i} happened x2" for i in range(5))
    assert [r.fields["kubernetes"]["event"]["count"] for r in updates] == [2] * 5
    ids = [r.event_id for r in listed + updates]
    assert len(set(ids)) == 25

    create_events(core, kube_namespace, "ev", range(20, 25))  # while the source is down
    with opened(kube, kube_namespace, version) as resumed:
        after = read(resumed, 5) + settle(resumed)
    assert sorted(r.message for r in after) == sorted(f"ev{i} happened" for i in range(20, 25))


def test_410_gone_relists_without_repeating_what_was_emitted(
    kube: Cluster, kube_namespace: str
) -> None:
    core = core_api(kube.kubeconfig)
    create_events(core, kube_namespace, "old", range(10))
    with opened(kube, kube_namespace, None) as part:
        first = read(part, 10) + settle(part, 0.5)
        version = part.snapshot()
    create_events(core, kube_namespace, "new", range(10, 15))
    bump_event(core, kube_namespace, "old3", count=7)
    compact_etcd(kube.etcd_url)  # the saved resourceVersion is now history: watch → 410 Gone
    relists_before = relists()

    with opened(kube, kube_namespace, version) as resumed:
        after = read(resumed, 6) + settle(resumed)
    assert relists() == relists_before + 1  # the server really answered 410
    assert len(first) == 10
    assert sorted(r.message for r in after) == sorted(
        [f"new{i} happened" for i in range(10, 15)] + ["old3 happened x7"]
    )
    assert not {r.event_id for r in first} & {r.event_id for r in after}
