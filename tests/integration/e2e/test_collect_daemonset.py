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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.home import free_port
from devtools.node import containerd, kubectl
from devtools.node.layout import node_paths
from tests.integration.brokers import Brokers
from tests.integration.e2e import writer
from tests.integration.e2e.conftest import Node
from tests.integration.e2e.overlay import collect_overlay, render
from tests.integration.kafka_helpers import read_all

LINES, LONG_EVERY, PER_SECOND = 20_000, 100, 1_000

# The faults, each while about a minute of lines flows: (lines, one long line in, lines per second).
# "within one file": under 1 MiB in all, so the kubelet never rotates it; "rotated": about 260 KB/s,
# so the file rotates every 10 s check and the collector's down time spans rotations.
FAULT_RUNS = {"within-one-file": (7_000, 1_000, 120), "rotated": (60_000, 100, 1_000)}
WRITER = "log-writer"
DEADLINE_S = 300
STALLED_S = 90  # no new line in Kafka for this long: stop waiting, count what is missing


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
        for pod in pods:  # the collector's whole log, this run's and a killed one's
            name = pod["metadata"]["name"]
            for which in ("", "--previous"):
                args = ["logs", "-n", "logwax", name, *([which] if which else [])]
                text = kubectl.run(node.kubeconfig, *args, check=False)
                (tmp_path / f"{name}{which.replace('--', '.')}.log").write_text(text)
            print(f"collector logs under {tmp_path}")
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
    records = (json.loads(m.value() or b"{}") for m in read_all(kafka_config, topic, timeout=60))
    return [r for r in records if str(r.get("message", "")).startswith(f"{run} ")]


@dataclass
class Shipped:
    """What one writer pod's run left in Kafka, counted."""

    run: str
    namespace: str
    lines: int
    long_every: int
    seen: list[dict[str, Any]]
    elapsed_s: float

    def check(self, pod_name: str) -> None:
        expected = {writer.line(self.run, n, self.long_every) for n in range(self.lines)}
        counts = Counter(r["message"] for r in self.seen)
        lost = len(expected - set(counts))
        duplicates = sum(n - 1 for n in counts.values())
        strangers = len(set(counts) - expected)
        long_lines = sum(1 for m in counts if len(m) > 16 * 1024)
        where = Counter(
            (
                r.get("kubernetes", {}).get("namespace"),
                r.get("kubernetes", {}).get("pod", {}).get("name"),
                r.get("kubernetes", {}).get("container", {}).get("name"),
            )
            for r in self.seen
        )
        enriched = sum(
            1
            for r in self.seen
            if "kubernetes" in r and not r["kubernetes"].get("metadata_missing")
        )
        missing = sorted(int(m.split()[1]) for m in expected - set(counts))
        print(f"first missing: {missing[:10]}, last missing: {missing[-10:]}")
        print(
            f"sent={self.lines} in_kafka={len(self.seen)} unique={len(counts)} lost={lost} "
            f"duplicates={duplicates} strangers={strangers} long_reassembled={long_lines} "
            f"enriched={enriched} in {self.elapsed_s:.0f}s"
        )
        assert lost == 0 and duplicates == 0 and strangers == 0
        assert long_lines == self.lines // self.long_every
        assert where == Counter({(self.namespace, pod_name, "writer"): self.lines}), where


def ship(
    node: Node,
    kafka_config: dict[str, Any],
    topic: str,
    lines: int,
    fault: Callable[[int], None] = lambda _count: None,
    long_every: int = LONG_EVERY,
    per_second: int = PER_SECOND,
) -> Shipped:
    """Run a writer pod of ``lines`` lines and wait for them in Kafka; ``fault(count)`` is
    called at every poll with how many have arrived (read_committed) so far."""
    run = f"e2e-{uuid.uuid4().hex[:8]}"
    kubectl.run(node.kubeconfig, "create", "namespace", run)
    try:
        kubectl.run(
            node.kubeconfig,
            "apply",
            "-f",
            "-",
            stdin=writer.manifest(
                name=WRITER,
                namespace=run,
                run=run,
                total=lines,
                long_every=long_every,
                per_second=per_second,
            ),
        )
        began = time.monotonic()
        seen: list[dict[str, Any]] = []

        progress = [(0, time.monotonic())]  # (count, when it last changed)

        def all_in() -> bool:
            nonlocal seen
            seen = our_records(kafka_config, topic, run)
            print(f"{time.monotonic() - began:5.0f}s: {len(seen)} of {lines} in Kafka")
            fault(len(seen))
            if len(seen) != progress[-1][0]:
                progress.append((len(seen), time.monotonic()))
            stalled = time.monotonic() - progress[-1][1] > STALLED_S
            return len(seen) >= lines or stalled

        with contextlib.suppress(AssertionError):  # the counts say what is missing
            wait(f"{lines} lines in Kafka", all_in, timeout=DEADLINE_S, poll=3.0)
        elapsed = time.monotonic() - began
        time.sleep(12)  # one more snapshot interval: a duplicate would show up now
        seen = our_records(kafka_config, topic, run)
    finally:
        kubectl.run(node.kubeconfig, "delete", "namespace", run, "--wait=false", check=False)
    return Shipped(run, run, lines, long_every, seen, elapsed)


def test_every_line_of_a_pod_reaches_kafka_once_with_its_pod(
    node: Node, collect: str, kafka_config: dict[str, Any]
) -> None:
    ship(node, kafka_config, collect, LINES).check(WRITER)


def container_id(pod: dict[str, Any]) -> str:
    statuses = pod["status"].get("containerStatuses") or []
    return str(statuses[0]["containerID"]).split("://", 1)[1]


@pytest.mark.parametrize("kind", FAULT_RUNS)
def test_a_deleted_and_a_killed_collector_still_ship_every_line_once(
    node: Node, collect: str, kafka_config: dict[str, Any], kind: str
) -> None:
    """The collect pod deleted (SIGTERM, the DaemonSet makes a new one) once lines arrive, then
    the new pod's logwax SIGKILLed once more have: it resumes from its hostPath recovery."""
    lines, long_every, per_second = FAULT_RUNS[kind]
    done: list[str] = []
    at_fault: list[int] = []

    def fault(count: int) -> None:
        if not done and count >= lines // 10:  # flowing: past the first line's pause
            old = collect_pods(node.kubeconfig)[0]["metadata"]["name"]
            kubectl.run(node.kubeconfig, "delete", "pod", "-n", "logwax", old, "--wait=true")
            took = wait(
                "a new Ready collect pod",
                lambda: any(
                    ready(p) and p["metadata"]["name"] != old for p in collect_pods(node.kubeconfig)
                ),
                timeout=120,
            )
            print(f"deleted {old} at {count} lines; a new pod was Ready {took:.0f}s later")
            done.append("deleted")
            at_fault.append(count)
        elif len(done) == 1 and count > at_fault[0]:
            pod = collect_pods(node.kubeconfig)[0]
            containerd.ctr(node_paths(), "tasks", "kill", "--signal", "SIGKILL", container_id(pod))
            print(f"SIGKILLed logwax in {pod['metadata']['name']} at {count} lines")
            done.append("killed")
            at_fault.append(count)

    shipped = ship(node, kafka_config, collect, lines, fault, long_every, per_second)
    restarts = collect_pods(node.kubeconfig)[0]["status"]["containerStatuses"][0]["restartCount"]
    print(f"faults {done} at {at_fault} lines; restarts of the new pod's container: {restarts}")
    assert done == ["deleted", "killed"] and at_fault[-1] < lines, "faults not mid-stream"
    assert restarts >= 1
    shipped.check(WRITER)
