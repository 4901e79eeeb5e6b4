"""The collect DaemonSet from ``deploy/k8s`` on a real node: a pod's stdout, written by the kubelet
as CRI log files (long lines split into partial records, the file rotated small), read by the
DaemonSet's logwax pod from ``/var/log/pods`` and shipped to the real Kafka with exactly-once
transactions. Read back ``read_committed``, every line is there once, whole, with the namespace,
pod and container it came from."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.home import free_port
from devtools.node import kubectl
from tests.integration.brokers import Brokers
from tests.integration.e2e import writer
from tests.integration.e2e.conftest import Node
from tests.integration.e2e.overlay import collect_overlay, render
from tests.integration.kafka_helpers import read_all

LINES, LONG_EVERY, PER_SECOND = 20_000, 100, 1_000
DEADLINE_S = 300


def wait(what: str, check: Callable[[], bool], timeout: float, poll: float = 1.0) -> float:
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"{what}: not after {timeout:.0f}s")
        time.sleep(poll)
    return time.monotonic() - began


def collect_pods(kubeconfig: str) -> list[dict[str, Any]]:
    found = kubectl.get(
        kubeconfig, "pods", "-n", "logwax", "-l", "app.kubernetes.io/component=collect"
    )
    return list(found["items"])


def ready(pod: dict[str, Any]) -> bool:
    return kubectl.condition(pod, "Ready") == "True"


@pytest.fixture
def collect(
    node: Node,
    node_images: list[str],
    servers: Brokers,
    tmp_path: Path,
    new_topic: Callable[..., str],
) -> Iterator[str]:
    """The collect DaemonSet applied through the test overlay; its topic. Deleted afterwards."""
    topic = new_topic(partitions=3)
    overlay = collect_overlay(
        tmp_path / "overlay",
        bootstrap=servers.kafka_bootstrap,
        topic=topic,
        api_port=node.api_port,
        metrics_port=free_port(),
        recovery=tmp_path / "recovery",
    )
    rendered = yaml.safe_dump_all(render(overlay))
    kubectl.run(node.kubeconfig, "apply", "-f", "-", stdin=rendered)
    try:
        took = wait(
            "a Ready collect pod",
            lambda: any(ready(pod) for pod in collect_pods(node.kubeconfig)),
            timeout=180,
        )
        print(f"collect pod Ready (its /readyz) after {took:.1f}s")
        yield topic
    finally:
        pods = collect_pods(node.kubeconfig)
        for pod in pods:
            name = pod["metadata"]["name"]
            print(
                kubectl.run(
                    node.kubeconfig, "logs", "-n", "logwax", name, "--tail=20", check=False
                )[-4000:]
            )
        kubectl.run(
            node.kubeconfig,
            "delete",
            "--wait=true",
            "--timeout=120s",
            "-f",
            "-",
            stdin=rendered,
            check=False,
        )


def our_records(kafka_config: dict[str, Any], topic: str, run: str) -> list[dict[str, Any]]:
    records = (json.loads(m.value()) for m in read_all(kafka_config, topic, timeout=60))
    return [r for r in records if str(r.get("message", "")).startswith(f"{run} ")]


def test_every_line_of_a_pod_reaches_kafka_once_with_its_pod(
    node: Node, collect: str, kafka_config: dict[str, Any]
) -> None:
    run = f"e2e-{uuid.uuid4().hex[:8]}"
    namespace, pod_name = run, "log-writer"
    kubectl.run(node.kubeconfig, "create", "namespace", namespace)
    try:
        kubectl.run(
            node.kubeconfig,
            "apply",
            "-f",
            "-",
            stdin=writer.manifest(
                name=pod_name,
                namespace=namespace,
                run=run,
                total=LINES,
                long_every=LONG_EVERY,
                per_second=PER_SECOND,
            ),
        )
        began = time.monotonic()
        seen: list[dict[str, Any]] = []

        def all_in() -> bool:
            nonlocal seen
            seen = our_records(kafka_config, collect, run)
            print(f"{time.monotonic() - began:5.0f}s: {len(seen)} of {LINES} in Kafka")
            return len(seen) >= LINES

        with contextlib.suppress(AssertionError):  # the counts below say what is missing
            wait(f"{LINES} lines in Kafka", all_in, timeout=DEADLINE_S, poll=5.0)
        elapsed = time.monotonic() - began
        time.sleep(12)  # one more snapshot interval: a duplicate would show up now
        seen = our_records(kafka_config, collect, run)
    finally:
        kubectl.run(node.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)

    expected = {writer.line(run, n, LONG_EVERY) for n in range(LINES)}
    counts = Counter(r["message"] for r in seen)
    lost = len(expected - set(counts))
    duplicates = sum(n - 1 for n in counts.values())
    strangers = len(set(counts) - expected)
    long_lines = sum(1 for m in counts if len(m) > 16 * 1024)
    where = Counter(
        (
            r["kubernetes"]["namespace"],
            r["kubernetes"]["pod"]["name"],
            r["kubernetes"]["container"]["name"],
        )
        for r in seen
    )
    enriched = sum(1 for r in seen if not r["kubernetes"].get("metadata_missing"))
    missing = sorted(int(m.split()[1]) for m in expected - set(counts))
    print(f"first missing: {missing[:10]}, last missing: {missing[-10:]}")
    print(
        f"sent={LINES} in_kafka={len(seen)} unique={len(counts)} lost={lost} "
        f"duplicates={duplicates} strangers={strangers} long_reassembled={long_lines} "
        f"enriched={enriched} in {elapsed:.0f}s"
    )
    assert lost == 0 and duplicates == 0 and strangers == 0
    assert long_lines == LINES // LONG_EVERY
    assert where == Counter({(namespace, pod_name, "writer"): LINES})
