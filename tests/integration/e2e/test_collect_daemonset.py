"""The collect DaemonSet from ``deploy/k8s`` on a real node: a pod's stdout, written by the kubelet
as CRI log files (long lines split into partial records, the file rotated small), read by the
DaemonSet's logwax pod from ``/var/log/pods`` and shipped to the real Kafka with exactly-once
transactions. Read back ``read_committed``, every line is there once, whole, with the namespace,
pod, container and pod labels it came from. The collector pod is Ready through its ``/readyz``,
answers ``/metrics``, and runs with the security context the shipped manifest has."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.home import free_port
from devtools.node import containerd, kubectl
from devtools.node.layout import node_paths
from tests.integration.e2e import writer
from tests.integration.e2e.conftest import Node
from tests.integration.e2e.overlay import collect_overlay
from tests.integration.e2e.pods import (
    apply,
    component_pods,
    delete,
    keep_logs,
    ready,
    served_metrics,
    shipped_pod_spec,
    wait,
)
from tests.integration.kafka_helpers import read_all
from tests.integration.secured_kafka import SecuredCluster, producer_acls, readback_acls

LINES, LONG_EVERY, PER_SECOND = 20_000, 100, 1_000

# The faults: (lines, one long line in, lines per second). "within one file": under 1 MiB in all,
# so the kubelet never rotates it; "rotated": the figures, about 300 KB/s for 200 s, so
# the file rotates at every 10 s check, the collector's down time spans rotations, and the writer
# pod is deleted and made again mid-stream too.
FAULT_RUNS = {"within-one-file": (7_000, 1_000, 120), "rotated": (200_000, 100, 1_000)}
WRITER = "log-writer"
DEADLINE_S = 600
STALLED_S = 90  # no new line in Kafka for this long: stop waiting, count what is missing


def collect_pods(kubeconfig: str) -> list[dict[str, Any]]:
    return component_pods(kubeconfig, "collect")


@dataclass(frozen=True)
class Collect:
    topic: str
    reader: dict[str, Any]  # librdkafka settings that may read it


@pytest.fixture
def collect(
    node: Node, node_images: list[str], secured: SecuredCluster, tmp_path: Path
) -> Iterator[Collect]:
    """The collect DaemonSet applied through the test overlay, shipping to the secured broker
    as the ``logwax-collect`` user with the ACLs the README lists. Deleted afterwards."""
    topic = secured.new_topic(partitions=3)
    user, password = secured.new_user("logwax-collect")
    principal = f"User:{user}"
    secured.grant(
        producer_acls(principal, topic, "logwax-collect-") + readback_acls(principal, topic)
    )
    metrics_port = free_port()
    overlay = collect_overlay(
        tmp_path / "overlay",
        bootstrap=secured.broker.sasl_bootstrap,
        kafka_password=password,
        kafka_ca=secured.broker.ca_file,
        topic=topic,
        api_port=node.api_port,
        metrics_port=metrics_port,
        recovery=tmp_path / "recovery",
    )
    rendered = apply(node.kubeconfig, overlay)
    try:
        took = wait(
            "a Ready collect pod",
            lambda: any(ready(pod) for pod in collect_pods(node.kubeconfig)),
            timeout=180,
        )
        print(f"collect pod Ready (its /readyz) after {took:.1f}s")
        check_served_and_secured(collect_pods(node.kubeconfig)[0], metrics_port)
        yield Collect(topic, secured.broker.admin_config())
    finally:
        # The collector's whole log, this run's and a killed one's.
        keep_logs(node.kubeconfig, collect_pods(node.kubeconfig), tmp_path)
        print(f"collector logs under {tmp_path}")
        delete(node.kubeconfig, rendered)


def check_served_and_secured(pod: dict[str, Any], metrics_port: int) -> None:
    """The probes' and Prometheus' endpoints answer on the host network, and the pod runs with
    exactly the security contexts ``deploy/k8s/collect`` ships: logwax as uid 10001, non-root, on a
    read-only root filesystem with no capability, reading the root-owned host logs through its
    supplementary groups; only the init container that hands it the recovery hostPath is root,
    with CAP_CHOWN alone. The API's view, then the kernel's view of the running process."""
    metrics = served_metrics(metrics_port)
    assert "logwax_source_records_total" in metrics
    shipped_pod = shipped_pod_spec("collect/daemonset.yaml")
    spec = pod["spec"]
    print(f"pod security context: {spec['securityContext']}")
    print(f"logwax: {spec['containers'][0]['securityContext']}")
    print(f"init: {spec['initContainers'][0]['securityContext']}")
    assert contexts(spec) == contexts(shipped_pod)
    effective = {**spec["securityContext"], **spec["containers"][0]["securityContext"]}
    assert effective["runAsUser"] == 10001 and effective["runAsGroup"] == 10001
    assert effective["runAsNonRoot"] is True
    assert effective["readOnlyRootFilesystem"] is True
    assert effective["allowPrivilegeEscalation"] is False
    assert effective["capabilities"] == {"drop": ["ALL"]}
    assert 0 in effective["supplementalGroups"]
    for init in spec["initContainers"]:
        assert init["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
        assert init["securityContext"]["readOnlyRootFilesystem"] is True
        assert init["securityContext"]["allowPrivilegeEscalation"] is False
    status = process_status(container_id(pod))
    shown = ("Uid", "Gid", "Groups", "CapEff", "CapBnd", "NoNewPrivs", "Seccomp", "root")
    print(f"the running logwax process: { ({key: status.get(key) for key in shown}) }")
    assert status["Uid"].split() == ["10001"] * 4 and status["Gid"].split() == ["10001"] * 4
    groups = {*effective["supplementalGroups"], effective["fsGroup"]}
    assert {int(g) for g in status["Groups"].split()} == groups
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[capabilities], 16) == 0, capabilities
    assert status["NoNewPrivs"] == "1"
    assert status["root"].split(",")[0] == "ro"


def contexts(spec: dict[str, Any]) -> list[Any]:
    """A pod spec's own security context, then its init containers' and its containers'."""
    containers = [*spec["initContainers"], *spec["containers"]]
    return [spec["securityContext"], *(c["securityContext"] for c in containers)]


def process_status(container: str) -> dict[str, str]:
    """``/proc/<pid>/status`` of a container's first process on this node, and the mount options
    of its root filesystem as ``root``."""
    tasks = containerd.ctr(node_paths(), "tasks", "ls").splitlines()[1:]
    pid = next(int(line.split()[1]) for line in tasks if line.split()[0] == container)
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    found = {key: value.strip() for key, value in status.items()}
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/":
            found["root"] = fields[5]
    return found


def pod_log_modes(namespace: str) -> list[tuple[str, int, int, str]]:
    """Owner, group and mode of /var/log/pods and of every file the kubelet keeps there for the
    pods of ``namespace`` (their log files, rotated and gzipped ones included)."""
    pods = Path("/var/log/pods")
    found = [(str(pods), *owner_mode(pods))]
    for path in sorted(pods.glob(f"{namespace}_*/*/*")):
        with contextlib.suppress(FileNotFoundError):  # a rotation's temporary file, gone
            found.append((str(path.relative_to(pods)), *owner_mode(path)))
    return found


def check_root_only(modes: list[tuple[str, int, int, str]]) -> None:
    """The pod logs were root's alone, none readable by others: the collector, uid 10001, read
    them through its supplementary group 0."""
    for path, uid, gid, mode in modes:
        print(f"{mode} {uid}:{gid} {path}")
    assert modes[0][1:] == (0, 0, "0o750"), modes[0]
    files = modes[1:]
    assert files and all(
        (uid, gid) == (0, 0) and int(mode, 8) & 0o004 == 0 for _path, uid, gid, mode in files
    ), files


def owner_mode(path: Path) -> tuple[int, int, str]:
    info = path.stat()
    return info.st_uid, info.st_gid, oct(stat.S_IMODE(info.st_mode))


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
        labelled = sum(
            1 for r in self.seen if r.get("kubernetes", {}).get("labels", {}).get("app") == WRITER
        )
        print(f"records with the writer pod's labels: {labelled}")
        assert labelled == self.lines


@dataclass
class WriterPod:
    """The log-writer pod of one run, and the host directory that holds how far it got."""

    node: Node
    namespace: str
    run: str
    lines: int
    long_every: int
    per_second: int
    progress: Path

    def apply(self) -> None:
        manifest = writer.manifest(
            name=WRITER,
            namespace=self.namespace,
            run=self.run,
            total=self.lines,
            long_every=self.long_every,
            per_second=self.per_second,
            progress=str(self.progress),
        )
        kubectl.run(self.node.kubeconfig, "apply", "-f", "-", stdin=manifest)

    def sent(self) -> int:
        try:
            return int((self.progress / "count").read_text() or 0)
        except FileNotFoundError:
            return 0

    def replace(self) -> int:
        """Delete the pod (SIGTERM: it records its count and exits) and make it again, to go on
        from that count; returns the count."""
        args = ["delete", "pod", "-n", self.namespace, WRITER, "--wait=true", "--timeout=60s"]
        kubectl.run(self.node.kubeconfig, *args)
        count = self.sent()
        self.apply()
        return count


def ship(
    node: Node,
    kafka_config: dict[str, Any],
    topic: str,
    lines: int,
    progress: Path,
    fault: Callable[[int, WriterPod], None] = lambda _count, _writer: None,
    long_every: int = LONG_EVERY,
    per_second: int = PER_SECOND,
) -> Shipped:
    """Run a writer pod of ``lines`` lines and wait for them in Kafka; ``fault(count, writer)``
    is called at every poll with how many have arrived (read_committed) so far."""
    run = f"e2e-{uuid.uuid4().hex[:8]}"
    progress.mkdir(parents=True)
    os.chmod(progress, 0o777)  # the writer runs as nobody
    kubectl.run(node.kubeconfig, "create", "namespace", run)
    pod = WriterPod(node, run, run, lines, long_every, per_second, progress)
    try:
        pod.apply()
        began = time.monotonic()
        seen: list[dict[str, Any]] = []

        progress_seen = [(0, time.monotonic())]  # (count, when it last changed)

        def all_in() -> bool:
            nonlocal seen
            seen = our_records(kafka_config, topic, run)
            print(f"{time.monotonic() - began:5.0f}s: {len(seen)} of {lines} in Kafka")
            fault(len(seen), pod)
            if len(seen) != progress_seen[-1][0]:
                progress_seen.append((len(seen), time.monotonic()))
            stalled = time.monotonic() - progress_seen[-1][1] > STALLED_S
            return len(seen) >= lines or stalled

        with contextlib.suppress(AssertionError):  # the counts say what is missing
            wait(f"{lines} lines in Kafka", all_in, timeout=DEADLINE_S, poll=3.0)
        elapsed = time.monotonic() - began
        time.sleep(12)  # one more snapshot interval: a duplicate would show up now
        seen = our_records(kafka_config, topic, run)
        print(f"the writer pods sent {pod.sent()} lines")
        check_root_only(pod_log_modes(run))
        assert pod.sent() == lines
    finally:
        kubectl.run(node.kubeconfig, "delete", "namespace", run, "--wait=false", check=False)
    return Shipped(run, run, lines, long_every, seen, elapsed)


def test_every_line_of_a_pod_reaches_kafka_once_with_its_pod(
    node: Node, collect: Collect, tmp_path: Path
) -> None:
    ship(node, collect.reader, collect.topic, LINES, tmp_path / "progress").check(WRITER)


def container_id(pod: dict[str, Any]) -> str:
    statuses = pod["status"].get("containerStatuses") or []
    return str(statuses[0]["containerID"]).split("://", 1)[1]


@pytest.mark.parametrize("kind", FAULT_RUNS)
def test_a_deleted_and_a_killed_collector_still_ship_every_line_once(
    node: Node, collect: Collect, kind: str, tmp_path: Path
) -> None:
    """The collect pod deleted (SIGTERM, the DaemonSet makes a new one) once lines arrive, then
    the new pod's logwax SIGKILLed once more have: it resumes from its hostPath recovery. In the
    rotated run the writer pod is also deleted and made again first (a new pod, a new log)."""
    lines, long_every, per_second = FAULT_RUNS[kind]
    done: list[str] = []
    at_fault: list[int] = []
    began = time.monotonic()
    faults = ["writer replaced"] if kind == "rotated" else []
    faults += ["deleted", "killed"]

    def fault(count: int, writer_pod: WriterPod) -> None:
        step = faults[len(done)] if len(done) < len(faults) else None
        if step == "writer replaced" and count >= lines // 10:
            sent = writer_pod.replace()
            print(f"writer pod deleted after sending {sent} lines, at {count} in Kafka; made again")
        elif step == "deleted" and count >= lines // 10 * (2 if faults[0] != "deleted" else 1):
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
        elif step == "killed" and count > at_fault[-1]:
            pod = collect_pods(node.kubeconfig)[0]
            containerd.ctr(node_paths(), "tasks", "kill", "--signal", "SIGKILL", container_id(pod))
            print(f"SIGKILLed logwax in {pod['metadata']['name']} at {count} lines")
        else:
            return
        done.append(str(step))
        at_fault.append(count)

    progress = tmp_path / "progress"
    shipped = ship(
        node, collect.reader, collect.topic, lines, progress, fault, long_every, per_second
    )
    restarts = collect_pods(node.kubeconfig)[0]["status"]["containerStatuses"][0]["restartCount"]
    print(f"faults {done} at {at_fault} lines; restarts of the new pod's container: {restarts}")
    print(f"scenario {kind}: {time.monotonic() - began:.0f}s in all")
    assert done == faults and at_fault[-1] < lines, "faults not mid-stream"
    assert restarts >= 1
    shipped.check(WRITER)
