"""The events Deployment from ``deploy/k8s`` on a real node: the Events the cluster emits while
the test runs (a pod scheduled, its image found, its container created and started, crashing
into BackOff, killed when deleted) reach Elasticsearch through TLS with an API key, as shipped,
each update of each Event once (its document id is ``<uid>:<resourceVersion>``), across a delete
of the events pod, which resumes from its claim's hostPath volume."""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers

from devtools import es_proxy
from devtools.home import free_port
from devtools.node import kubectl
from tests.integration.brokers import Brokers
from tests.integration.e2e.conftest import Node
from tests.integration.e2e.events_overlay import events_overlay
from tests.integration.e2e.pods import (
    apply,
    component_pods,
    delete,
    keep_logs,
    nobody_security_context,
    ready,
    served_metrics,
    shipped_pod_spec,
    wait,
)
from tests.integration.flow_runs import es_count

WANTED = {"Scheduled", "Pulled", "Created", "Started", "BackOff", "Killing"}
API_KEY = f"ZXZlbnRz{secrets.token_hex(8)}"
CRASH, SLEEP = "import time; time.sleep(2); exit(3)", "import time; time.sleep(3600)"
POLL_S = 2.0  # each wait here asks the API server or Elasticsearch: every 2 s is enough


def ready_pod(kubeconfig: str, other_than: str = "") -> dict[str, Any] | None:
    for pod in component_pods(kubeconfig, "events"):
        name = pod["metadata"]["name"]
        deleting = pod["metadata"].get("deletionTimestamp")
        if name != other_than and not deleting and ready(pod):
            return pod
    return None


@pytest.fixture
def events(
    node: Node,
    node_images: list[str],
    servers: Brokers,
    tmp_path: Path,
    new_index_prefix: Callable[[], str],
) -> Iterator[tuple[str, int]]:
    """The events Deployment through the test overlay; its index prefix and metrics port."""
    (tmp_path / "es-proxy").mkdir()
    proxy = es_proxy.start(tmp_path / "es-proxy", servers.elasticsearch_url, {}, [API_KEY])
    prefix, metrics_port = new_index_prefix(), free_port()
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    os.chmod(recovery, 0o777)  # a hostPath gets no fsGroup: uid 10001 must write it
    overlay = events_overlay(
        tmp_path / "overlay",
        es_url=proxy.api_key_url,
        index=f"{prefix}-%Y.%m.%d",
        api_key=API_KEY,
        ca_file=proxy.ca_file,
        api_port=node.api_port,
        metrics_port=metrics_port,
        recovery=recovery,
    )
    rendered = apply(node.kubeconfig, overlay)
    try:
        took = wait(
            "a Ready events pod", lambda: ready_pod(node.kubeconfig) is not None, 180, POLL_S
        )
        print(f"events pod Ready (its /readyz) after {took:.1f}s")
        yield prefix, metrics_port
    finally:
        pods = component_pods(node.kubeconfig, "events")
        keep_logs(node.kubeconfig, pods, tmp_path, previous=False)
        delete(node.kubeconfig, rendered)
        es_proxy.stop(proxy)


def workload(namespace: str, name: str, code: str) -> str:
    """A pod running ``code`` in logwax-base: ``crasher`` exits and is restarted into BackOff;
    ``sleeper`` runs until deleted (the kubelet reports Killing only for a running container)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "hostNetwork": True,
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "main",
                        "image": "logwax-base:bookworm",
                        "imagePullPolicy": "Never",
                        "command": ["python3.11", "-c", code],
                        "securityContext": nobody_security_context(),
                    }
                ],
            },
        }
    )


def api_events(node: Node, namespace: str) -> dict[str, str]:
    """``<uid>:<resourceVersion>`` → reason of each Event of ``namespace`` now (its last update)."""
    items = kubectl.get(node.kubeconfig, "events", "-n", namespace)["items"]
    return {
        f"{e['metadata']['uid']}:{e['metadata']['resourceVersion']}": str(e.get("reason"))
        for e in items
    }


def es_events(es: Elasticsearch, prefix: str, namespace: str) -> list[dict[str, Any]]:
    """The documents of ``namespace``'s Events (filtered here: the field is analysed text)."""
    if es_count(es, prefix) == 0:
        return []
    hits = helpers.scan(es, index=f"{prefix}-*", query={"query": {"match_all": {}}}, size=5000)
    documents = (hit["_source"] for hit in hits)
    return [d for d in documents if d.get("kubernetes", {}).get("namespace") == namespace]


def test_the_clusters_events_reach_elasticsearch_once_across_a_delete(
    node: Node, events: tuple[str, int], es: Elasticsearch
) -> None:
    prefix, metrics_port = events
    began = time.monotonic()
    pod = ready_pod(node.kubeconfig)
    assert pod is not None
    assert "logwax_" in served_metrics(metrics_port)
    shipped = shipped_pod_spec("events/deployment.yaml")
    wanted_pod = shipped["securityContext"]
    wanted_container = shipped["containers"][0]["securityContext"]
    print(
        f"security context: {pod['spec']['securityContext']} / "
        f"{pod['spec']['containers'][0]['securityContext']}"
    )
    assert pod["spec"]["securityContext"] == wanted_pod
    assert pod["spec"]["containers"][0]["securityContext"] == wanted_container

    namespace = f"e2e-events-{uuid.uuid4().hex[:8]}"
    kubectl.run(node.kubeconfig, "create", "namespace", namespace)
    try:
        for name, code in (("crasher", CRASH), ("sleeper", SLEEP)):
            kubectl.run(node.kubeconfig, "apply", "-f", "-", stdin=workload(namespace, name, code))
        wait(
            "the crash-looping pod in BackOff",
            lambda: "BackOff" in api_events(node, namespace).values(),
            timeout=120,
            poll=POLL_S,
        )
        old = pod["metadata"]["name"]
        kubectl.run(node.kubeconfig, "delete", "pod", "-n", "logwax", old, "--wait=true")
        took = wait(
            "a new Ready events pod",
            lambda: ready_pod(node.kubeconfig, other_than=old) is not None,
            timeout=180,
            poll=POLL_S,
        )
        print(f"deleted events pod {old}; a new one was Ready {took:.0f}s later")
        kubectl.run(node.kubeconfig, "delete", "pod", "-n", namespace, "sleeper", "--wait=true")
        wait(
            "Killing",
            lambda: "Killing" in api_events(node, namespace).values(),
            timeout=60,
            poll=POLL_S,
        )

        def event_ids() -> Counter[str]:
            return Counter(d["event"]["id"] for d in es_events(es, prefix, namespace))

        wait(
            "every update of the namespace's Events in Elasticsearch",
            lambda: set(api_events(node, namespace)) <= set(event_ids()),
            timeout=120,
            poll=POLL_S,
        )
        time.sleep(12)  # a snapshot interval more: a replay would show now
        # The crash-looping pod keeps updating its BackOff Event, so the API may hold a newer
        # update than the wait above saw (CI saw one 12 s later): that one must arrive too.
        in_api = api_events(node, namespace)
        wait(
            "the API's latest updates in Elasticsearch",
            lambda: set(in_api) <= set(event_ids()),
            timeout=60,
            poll=POLL_S,
        )
        found = es_events(es, prefix, namespace)
        ids = Counter(d["event"]["id"] for d in found)
        reasons = Counter(d["kubernetes"]["event"]["reason"] for d in found)
        print(
            f"events: {len(in_api)} in the API (last updates), {len(found)} updates in "
            f"Elasticsearch, {sum(n - 1 for n in ids.values())} duplicated; reasons {dict(reasons)}"
            f"; {time.monotonic() - began:.0f}s"
        )
        assert set(in_api) <= set(ids)
        assert max(ids.values()) == 1
        assert set(reasons) >= WANTED, WANTED - set(reasons)
    finally:
        kubectl.run(node.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)
