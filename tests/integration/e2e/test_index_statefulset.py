"""The index StatefulSet from ``deploy/k8s`` on a real node, scaled while records flow: a topic
of 6 partitions filled, a producer adding more all along, ``kubectl scale`` 1 → 3 → 2 → 1, one
pod deleted and one pod's logwax SIGKILLed mid-stream. Nothing else is done to scale (no
argument edited, no file moved). Elasticsearch ends with every record once; every pod was Ready
through its /readyz and answered /metrics, with the shipped security context."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from devtools.home import port_open
from devtools.node import containerd, kubectl
from devtools.node.layout import node_paths
from tests.integration.brokers import Brokers
from tests.integration.e2e.conftest import Node
from tests.integration.e2e.overlay import index_overlay
from tests.integration.e2e.pods import apply, component_pods, delete, keep_logs, ready, wait
from tests.integration.flow_runs import es_count, es_event_ids, http_get
from tests.integration.test_index_flow import produce

PARTITIONS = 6
FILLED = 500_000
TRICKLE = 600_000  # at most: 2,000 a second until the scaling is over
STAMP = "2026-11-23T00:00:00Z"
DEADLINE_S = 420


def index_pods(kubeconfig: str, terminating: bool = False) -> list[dict[str, Any]]:
    """The index pods; those being deleted (still draining) only if ``terminating``."""
    found = component_pods(kubeconfig, "index")
    return [p for p in found if terminating or not p["metadata"].get("deletionTimestamp")]


def container_id(pod: dict[str, Any]) -> str:
    return str(pod["status"]["containerStatuses"][0]["containerID"]).split("://", 1)[1]


def ten_free_ports() -> int:
    """A multiple of 10 with the 10 loopback ports from it free (one per pod ordinal)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 30_000, 10)
        if not any(port_open(base + i) for i in range(10)):
            return base
    raise AssertionError("no 10 free ports in a row")


class Trickle(threading.Thread):
    """Adds up to ``total`` records, 2,000 a second, while the pods come and go (bounded in count
    and time; stopped when the scaling is over)."""

    def __init__(self, kafka_config: dict[str, Any], topic: str, total: int) -> None:
        super().__init__(daemon=True)
        self.kafka_config, self.topic, self.total = kafka_config, topic, total
        self.sent: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        producer = Producer({**self.kafka_config, "enable.idempotence": True, "linger.ms": 20})
        deadline = time.monotonic() + DEADLINE_S
        while len(self.sent) < self.total and time.monotonic() < deadline:
            if self.stop.wait(0.5):
                break
            for _ in range(1000):
                event_id = f"late-{len(self.sent)}"
                doc = {"message": event_id, "@timestamp": STAMP}
                producer.produce(
                    self.topic, json.dumps(doc).encode(), headers=[("event_id", event_id.encode())]
                )
                self.sent.append(event_id)
                producer.poll(0)
        producer.flush(60)


@pytest.fixture
def index_set(
    node: Node,
    node_images: list[str],
    servers: Brokers,
    tmp_path: Path,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> Iterator[tuple[str, str, int]]:
    """The index StatefulSet (1 replica) reading a new topic into a new index prefix; the topic,
    the prefix and the pods' first metrics port. Deleted afterwards, its logs kept."""
    topic, prefix = new_topic(partitions=PARTITIONS), new_index_prefix()
    ports = ten_free_ports()
    pipeline = {
        "name": "index",
        "flow": "index",
        "kafka_input": {
            "bootstrap_servers": servers.kafka_bootstrap,
            "topics": [topic],
            "consumer_group": f"logwax-index-{uuid.uuid4().hex[:8]}",
            "consumer_options": {"session.timeout.ms": 10000},
        },
        "elasticsearch": {"hosts": [servers.elasticsearch_url], "index": f"{prefix}-%Y"},
    }
    overlay = index_overlay(tmp_path / "overlay", pipeline=pipeline, metrics_ports=ports)
    rendered = apply(node.kubeconfig, overlay)
    try:
        yield topic, prefix, ports
    finally:
        keep_logs(node.kubeconfig, index_pods(node.kubeconfig), tmp_path)
        print(f"index pod logs under {tmp_path}")
        delete(node.kubeconfig, rendered)


def scale(node: Node, replicas: int) -> float:
    """``kubectl scale`` and nothing else; seconds until exactly that many pods are Ready and
    the pods scaled away have drained and exited."""
    kubectl.run(
        node.kubeconfig, "scale", "statefulset", "logwax-index", "-n", "logwax",
        f"--replicas={replicas}",
    )  # fmt: skip
    return wait(
        f"{replicas} Ready index pods",
        lambda: (
            (pods := index_pods(node.kubeconfig, terminating=True)) != []
            and len(pods) == replicas
            and all(ready(p) for p in pods)
        ),
        timeout=180,
    )


def get(url: str) -> tuple[int, str]:
    """``http_get``, with a port nobody listens on yet as status 0."""
    try:
        return http_get(url)
    except OSError:
        return 0, ""


def owned_partitions(port: int) -> float:
    """The pod's ``logwax_kafka_group_partitions`` from its /metrics; 0 while it does not answer
    (a pod just started or restarting)."""
    status, body = get(f"http://127.0.0.1:{port}/metrics")
    for line in body.splitlines() if status == 200 else []:
        if line.startswith("logwax_kafka_group_partitions{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def spread(ports: int, replicas: int) -> float:
    """Seconds until every pod owns partitions (its /metrics says so) and its /readyz is 200:
    the group spread the topic over the pods, nobody told them how many there are."""
    return wait(
        f"partitions owned by each of {replicas} pods",
        lambda: all(
            owned_partitions(ports + i) > 0
            and get(f"http://127.0.0.1:{ports + i}/readyz")[0] == 200
            for i in range(replicas)
        ),
        timeout=90,
    )


def test_index_statefulset_scaled_while_flowing_is_exactly_once(
    node: Node,
    index_set: tuple[str, str, int],
    kafka_config: dict[str, Any],
    es: Elasticsearch,
) -> None:
    topic, prefix, ports = index_set
    began = time.monotonic()
    produce(
        kafka_config,
        topic,
        [(f"early-{n}", {"message": f"early-{n}", "@timestamp": STAMP}) for n in range(FILLED)],
    )
    print(f"{FILLED} records in the topic after {time.monotonic() - began:.0f}s")
    took = scale(node, 1)
    print(f"1 pod Ready after {took:.0f}s, owning partitions {spread(ports, 1):.0f}s later")
    trickle = Trickle(kafka_config, topic, TRICKLE)
    trickle.start()
    steps: list[str] = []

    def at(count: int) -> None:
        wait(f"{count} documents", lambda: es_count(es, prefix) >= count, DEADLINE_S, poll=2.0)

    flowing: list[bool] = []

    def step(what: str, took: float) -> None:
        count = es_count(es, prefix)
        steps.append(f"{what}: {took:.0f}s, at {count} documents, {len(trickle.sent)} added")
        at(count + 20_000)  # the new membership moves records before the next step

    try:
        at(50_000)
        step("scaled to 3, all Ready and owning partitions", scale(node, 3) + spread(ports, 3))
        kubectl.run(node.kubeconfig, "delete", "pod", "-n", "logwax", "logwax-index-1")
        took = wait(
            "logwax-index-1 back and Ready",
            lambda: sum(ready(p) for p in index_pods(node.kubeconfig)) == 3,
            timeout=180,
        )
        step("logwax-index-1 deleted, back Ready", took)
        victim = next(
            p for p in index_pods(node.kubeconfig) if p["metadata"]["name"].endswith("-2")
        )
        containerd.ctr(node_paths(), "tasks", "kill", "--signal", "SIGKILL", container_id(victim))
        took = wait(
            "logwax-index-2 restarted and Ready",
            lambda: all(
                ready(p) and p["status"]["containerStatuses"][0]["restartCount"] >= 1
                for p in index_pods(node.kubeconfig)
                if p["metadata"]["name"].endswith("-2")
            ),
            timeout=180,
        )
        step("logwax in logwax-index-2 SIGKILLed, restarted and Ready", took)
        step("scaled to 2, both Ready and owning partitions", scale(node, 2) + spread(ports, 2))
        step("scaled to 1, Ready and owning partitions", scale(node, 1) + spread(ports, 1))
        flowing.append(trickle.is_alive())
    finally:
        trickle.stop.set()  # it added records all through the scaling
        trickle.join(timeout=90)
    assert flowing == [True], "records stopped arriving before the scaling was over"
    sent = FILLED + len(trickle.sent)
    at(sent)
    time.sleep(5)  # a duplicate would be another document: none may appear later
    ids = es_event_ids(es, prefix)
    duplicates = sum(ids.values()) - len(ids)
    print("\n".join(steps))
    print(
        f"sent={sent} in_es={sum(ids.values())} unique={len(ids)} duplicates={duplicates}"
        f" seconds={time.monotonic() - began:.0f}"
    )
    expected = {f"early-{n}" for n in range(FILLED)} | set(trickle.sent)
    assert set(ids) == expected and duplicates == 0
    assert es_count(es, prefix) == sent

    pod = index_pods(node.kubeconfig)[0]
    spec = pod["spec"]
    container = spec["containers"][0]
    assert spec["securityContext"]["runAsUser"] == 10001
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert "--statefulset" not in container["args"] and "--replicas" not in container["args"]
