"""Container log lines enriched from a real kube-apiserver: pods made as API objects, log files
written where the kubelet puts them, and the files source partition read directly."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from logwax.connectors.files.config import FilesSourceConfig
from logwax.connectors.files.health import probe
from tests.integration.brokers import Cluster
from tests.integration.flow_runs import start, stop_gracefully
from tests.integration.flow_runs import wait_for as flow_wait_for
from tests.integration.kube_pods import (
    api,
    append,
    cron_job_job,
    daemon_set,
    delete_pod,
    delete_pods,
    deployment_replica_set,
    files_partition,
    log_path,
    lookups,
    make_pod,
    messages,
    prepare_namespace,
    read_until,
    shared_cache,
    stateful_set,
    wait_for,
)
from tests.integration.pipelines import files_source, write_pipeline
from tests.integration.sinks import TestSinks


@pytest.fixture(autouse=True)
def _pods_deleted(kube: Cluster, kube_namespace: str) -> Iterator[None]:
    yield
    delete_pods(kube.kubeconfig, kube_namespace)


def _node() -> str:
    return f"node-{uuid.uuid4().hex[:8]}"


def _namespace(
    kube: Cluster, namespace: str, labels: dict[str, str]
) -> tuple[str, client.ApiClient, client.CoreV1Api]:
    """A fresh node name, and ``namespace`` labelled and ready for pods."""
    api_client = api(kube.kubeconfig)
    core = client.CoreV1Api(api_client)
    prepare_namespace(core, namespace, labels)
    return _node(), api_client, core


def _only(records: list[Any], prefix: str) -> dict[str, Any]:
    """The fields of the records whose message starts with ``prefix`` (all alike)."""
    chosen = [r.fields for r in records if r.message.startswith(prefix)]
    assert chosen, prefix
    assert all(f["kubernetes"] == chosen[0]["kubernetes"] for f in chosen)
    return chosen[0]


def test_lines_carry_labels_owners_node_and_namespace_labels(
    kube: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    node, api_client, core = _namespace(
        kube, ns, {"team": "payments", "app.kubernetes.io/part-of": "shop"}
    )
    web = make_pod(
        core,
        ns,
        "web-5d8f9-abcde",
        node,
        {"app": "web", "app.kubernetes.io/version": "1.4"},
        annotations={"logwax.test/keep": "yes", "vault.example/token": "s3cret"},
        owner=deployment_replica_set(api_client, ns, "web"),
        ip="10.244.1.5",
    )
    nightly = make_pod(
        core, ns, "nightly-1", node, {"job": "n"}, owner=cron_job_job(api_client, ns, "nightly")
    )
    db = make_pod(core, ns, "db-0", node, {"app": "db"}, owner=stateful_set(api_client, ns, "db"))
    agent = make_pod(
        core, ns, "agent-x1", node, {"app": "agent"}, owner=daemon_set(api_client, ns, "agent")
    )
    elsewhere = make_pod(core, ns, "web-other", f"{node}-other", {"app": "web"})
    for pod, uid, container in (
        ("web-5d8f9-abcde", web, "app"),
        ("web-5d8f9-abcde", web, "sidecar"),
        ("nightly-1", nightly, "app"),
        ("db-0", db, "app"),
        ("agent-x1", agent, "app"),
        ("web-other", elsewhere, "app"),
    ):
        append(
            log_path(tmp_path, ns, pod, uid, container),
            [f"{pod}/{container} {i}" for i in range(3)],
        )

    partition = files_partition(
        tmp_path, kube.kubeconfig, node, annotations=["logwax.test/*"], metadata_wait="3s"
    )
    try:
        records = read_until(partition, lambda got: len(got) == 18)
    finally:
        partition.close()

    web_app = _only(records, "web-5d8f9-abcde/app")
    kubernetes = web_app["kubernetes"]
    assert kubernetes["namespace"] == ns
    assert kubernetes["node"] == {"name": node}
    assert kubernetes["pod"] == {"name": "web-5d8f9-abcde", "uid": web, "ip": "10.244.1.5"}
    assert kubernetes["labels"] == {"app": "web", "app_kubernetes_io/version": "1.4"}
    assert kubernetes["annotations"] == {"logwax_test/keep": "yes"}  # the secret is not copied
    assert kubernetes["namespace_labels"]["team"] == "payments"
    assert kubernetes["namespace_labels"]["app_kubernetes_io/part-of"] == "shop"
    assert kubernetes["replicaset"] == {"name": "web-5d8f9"}
    assert kubernetes["deployment"] == {"name": "web"}
    assert kubernetes["container"] == {"name": "app", "image": "registry.example/app:1"}
    assert "metadata_missing" not in kubernetes
    container = web_app["container"]
    assert container["name"] == "app" and container["runtime"] == "containerd"
    assert container["image"] == {
        "name": "registry.example/app:1",
        "hash": {"all": [f"registry.example/app@sha256:{'a' * 64}"]},
    }
    assert len(container["id"]) == 32
    sidecar = _only(records, "web-5d8f9-abcde/sidecar")
    assert sidecar["container"]["image"]["name"] == "registry.example/proxy:2"
    assert sidecar["container"]["id"] != container["id"]

    assert _only(records, "nightly-1")["kubernetes"]["job"] == {"name": "nightly-29012345"}
    assert _only(records, "nightly-1")["kubernetes"]["cronjob"] == {"name": "nightly"}
    assert _only(records, "db-0")["kubernetes"]["statefulset"] == {"name": "db"}
    assert _only(records, "agent-x1")["kubernetes"]["daemonset"] == {"name": "agent"}
    # A pod of another node is not cached: its lines ship with the path's facts, flagged.
    other = _only(records, "web-other")["kubernetes"]
    assert other["metadata_missing"] is True
    assert other["pod"] == {"name": "web-other", "uid": elsewhere}
    assert "labels" not in other


def test_a_deleted_pod_is_enriched_for_the_grace_then_flagged(
    kube: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    node, _api, core = _namespace(kube, ns, {})
    uid = make_pod(core, ns, "short-lived", node, {"app": "short"})
    path = log_path(tmp_path, ns, "short-lived", uid)
    settings = {"deleted_pod_grace": "4s", "metadata_wait": "500ms"}
    with shared_cache(kube.kubeconfig, node, **settings) as cache:
        wait_for("pod cached", lambda: cache.pods.find(uid, ns, "short-lived") is not None)
        delete_pod(core, ns, "short-lived")
        wait_for("deletion seen", lambda: cache.pods.is_deleted(uid))
        deleted_at = time.monotonic()
        # Its lines are read only now, after the pod is gone from the API.
        append(path, ["late 1", "late 2"])
        partition = files_partition(tmp_path, kube.kubeconfig, node, **settings)
        try:
            late = read_until(partition, messages({"late 1", "late 2"}))
            assert time.monotonic() - deleted_at < 4
            assert {r.fields["kubernetes"]["labels"]["app"] for r in late} == {"short"}
            wait_for("grace over", lambda: cache.pods.find(uid, ns, "short-lived") is None)
            assert time.monotonic() - deleted_at >= 4
            append(path, ["after grace"])
            after = read_until(partition, messages({"after grace"}))
        finally:
            partition.close()
    flagged = next(r for r in after if r.message == "after grace")
    assert flagged.fields["kubernetes"]["metadata_missing"] is True


def test_a_label_changed_while_running_is_on_later_lines(
    kube: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    node, _api, core = _namespace(kube, ns, {"stage": "blue"})
    uid = make_pod(core, ns, "api-1", node, {"app": "api", "release": "v1"})
    path = log_path(tmp_path, ns, "api-1", uid)
    append(path, ["before"])
    partition = files_partition(tmp_path, kube.kubeconfig, node)
    try:
        before = read_until(partition, messages({"before"}))
        with shared_cache(kube.kubeconfig, node) as cache:
            core.patch_namespaced_pod("api-1", ns, {"metadata": {"labels": {"release": "v2"}}})
            core.patch_namespace(ns, {"metadata": {"labels": {"stage": "green"}}})

            def changed() -> bool:
                pod = cache.pods.find(uid, ns, "api-1")
                labels = cache.namespaces.labels(ns) or {}
                return (
                    pod is not None and pod.labels["release"] == "v2" and labels["stage"] == "green"
                )

            wait_for("change seen", changed)
        append(path, ["after"])
        after = read_until(partition, messages({"after"}))
    finally:
        partition.close()
    assert before[0].fields["kubernetes"]["labels"]["release"] == "v1"
    assert before[0].fields["kubernetes"]["namespace_labels"]["stage"] == "blue"
    last = after[-1].fields["kubernetes"]
    assert last["labels"] == {"app": "api", "release": "v2"}
    assert last["namespace_labels"]["stage"] == "green"


def test_a_pod_not_cached_waits_at_most_metadata_wait_and_stalls_no_other_file(
    kube: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    node, _api, core = _namespace(kube, ns, {})
    known = make_pod(core, ns, "known", node, {"app": "known"})
    unknown_uid = str(uuid.uuid4())
    with shared_cache(kube.kubeconfig, node, metadata_wait="2s") as cache:
        wait_for("pod cached", lambda: cache.pods.find(known, ns, "known") is not None)
        source = f"pods-{uuid.uuid4().hex[:8]}"
        partition = files_partition(tmp_path, kube.kubeconfig, node, source, metadata_wait="2s")
        try:
            read_until(partition, lambda got: True)  # the first scan: nothing there yet
            missed, waited = lookups(source, "miss"), lookups(source, "waited")
            append(log_path(tmp_path, ns, "unknown", unknown_uid), ["who am I"])
            append(log_path(tmp_path, ns, "known", known), ["known 1"])
            began = time.monotonic()
            first = read_until(partition, messages({"known 1"}))
            known_after = time.monotonic() - began
            rest = read_until(partition, messages({"who am I"}))
            unknown_after = time.monotonic() - began
            append(log_path(tmp_path, ns, "known", known), ["known 2"])
            read_until(partition, messages({"known 2"}), timeout=2)
            missed_after, waited_after = lookups(source, "miss"), lookups(source, "waited")
        finally:
            partition.close()
    assert known_after < 1.0, known_after  # the other file was not held up
    assert "who am I" not in {r.message for r in first}
    assert 1.8 <= unknown_after < 3.5, unknown_after
    flagged = next(r for r in rest if r.message == "who am I")
    assert flagged.fields["kubernetes"]["metadata_missing"] is True
    assert flagged.fields["kubernetes"]["pod"] == {"name": "unknown", "uid": unknown_uid}
    assert missed_after - missed == 1
    assert waited_after - waited == 1


def test_check_says_whether_the_node_pods_can_be_listed(
    kube: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    core = client.CoreV1Api(api(kube.kubeconfig))
    prepare_namespace(core, kube_namespace, {})
    node = _node()
    make_pod(core, kube_namespace, "one", node, {"app": "one"})
    settings = FilesSourceConfig.model_validate(
        {
            "type": "files",
            "name": "checked",
            "include": [f"{tmp_path}/*.log"],
            "kubernetes_metadata": {"kubeconfig": kube.kubeconfig, "node_name": node},
        }
    )
    assert probe(settings).endswith(f"pods of node {node} can be listed (1 now)")
    broken = settings.model_copy(
        update={
            "kubernetes_metadata": settings.kubernetes_metadata.model_copy(  # type: ignore[union-attr]
                update={"kubeconfig": tmp_path / "missing"}
            )
        }
    )
    with pytest.raises(Exception, match="kube-config"):
        probe(broken)


def test_logwax_run_ships_enriched_lines_to_elasticsearch(
    kube: Cluster, kube_namespace: str, tmp_path: Path, new_sinks: Callable[..., TestSinks]
) -> None:
    """The whole collect flow in its own process, node name from ``$NODE_NAME`` as the
    DaemonSet's downward API sets it."""
    ns = kube_namespace
    node, api_client, core = _namespace(kube, ns, {"team": "search"})
    uid = make_pod(
        core,
        ns,
        "web-5d8f9-xyz",
        node,
        {"app": "web", "app.kubernetes.io/name": "web"},
        owner=deployment_replica_set(api_client, ns, "web"),
    )
    append(log_path(tmp_path, ns, "web-5d8f9-xyz", uid), [f"hello {i}" for i in range(5)])
    sinks = new_sinks()
    config = write_pipeline(
        tmp_path,
        "collect_k8s_metadata",
        sources=[
            files_source(
                tmp_path,
                include=[f"{tmp_path}/pods/*/*/*.log"],
                scan_interval="200ms",
                kubernetes_metadata={"kubeconfig": kube.kubeconfig},
            )
        ],
        elasticsearch=sinks.elasticsearch(),
    )
    proc = start(config, tmp_path, env={"NODE_NAME": node})
    log = tmp_path / "logwax.log"
    flow_wait_for("five lines", lambda: sinks.es_count() >= 5, proc, log)
    stop_gracefully(proc)
    sinks.es.indices.refresh(index=f"{sinks.prefix}-*")
    hits = sinks.es.search(index=f"{sinks.prefix}-*", size=10)["hits"]["hits"]
    assert len(hits) == 5
    for hit in hits:
        kubernetes = hit["_source"]["kubernetes"]
        assert kubernetes["labels"] == {"app": "web", "app_kubernetes_io/name": "web"}
        assert kubernetes["deployment"] == {"name": "web"}
        assert kubernetes["namespace_labels"]["team"] == "search"
        assert kubernetes["node"] == {"name": node}
        assert hit["_source"]["container"]["image"]["name"] == "registry.example/app:1"
