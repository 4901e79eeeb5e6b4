"""The pods of a shipped workload as the end-to-end tests handle them: applied from an overlay,
waited for, checked to serve and to run as shipped, their logs kept, deleted again. One copy, so
the collect, events and index tests judge their pods by the same rules."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from devtools.node import kubectl
from tests.integration.e2e.overlay import DEPLOY, render
from tests.integration.flow_runs import http_get


def wait(what: str, check: Callable[[], bool], timeout: float, poll: float = 1.0) -> float:
    """Seconds until ``check()`` holds; fails naming ``what`` once ``timeout`` has passed, so a
    stuck rollout reads as what it was waiting for."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"{what}: not after {timeout:.0f}s")
        time.sleep(poll)
    return time.monotonic() - began


def component_pods(kubeconfig: str, component: str) -> list[dict[str, Any]]:
    """The pods of one shipped component (collect, events, index), found by the label every
    manifest under ``deploy/k8s`` gives its pods."""
    found = kubectl.get(
        kubeconfig, "pods", "-n", "logwax", "-l", f"app.kubernetes.io/component={component}"
    )
    return list(found["items"])


def ready(pod: dict[str, Any]) -> bool:
    return kubectl.condition(pod, "Ready") == "True"


def served_metrics(metrics_port: int) -> str:
    """/readyz and /metrics both answer 200 on the host network (what the probes and Prometheus
    ask); returns the metrics text, for the caller to look for the series its flow counts."""
    ready_status, _ = http_get(f"http://127.0.0.1:{metrics_port}/readyz")
    metrics_status, metrics = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
    print(f"/readyz {ready_status}; /metrics {metrics_status}, {len(metrics)} bytes")
    assert ready_status == 200 and metrics_status == 200
    return metrics


def shipped_pod_spec(manifest: str) -> dict[str, Any]:
    """The pod spec of a manifest under ``deploy/k8s`` (``"collect/daemonset.yaml"``): the
    overlays leave security as shipped, so a running pod's must equal this one's."""
    shipped = yaml.safe_load((DEPLOY / manifest).read_text())
    spec: dict[str, Any] = shipped["spec"]["template"]["spec"]
    return spec


def apply(kubeconfig: str, overlay: Path) -> str:
    """Apply the overlay as kustomize renders it; returns what was applied, for ``delete``."""
    rendered = yaml.safe_dump_all(render(overlay))
    kubectl.run(kubeconfig, "apply", "-f", "-", stdin=rendered)
    return rendered


def delete(kubeconfig: str, rendered: str) -> None:
    """Delete what ``apply`` applied and wait for it to go, so the next test starts without these
    pods; a failure is not raised, as a teardown must go on."""
    kubectl.run(
        kubeconfig,
        "delete",
        "--wait=true",
        "--timeout=120s",
        "-f",
        "-",
        stdin=rendered,
        check=False,
    )


def keep_logs(
    kubeconfig: str, pods: list[dict[str, Any]], directory: Path, previous: bool = True
) -> None:
    """Each pod's log as ``<pod>.log`` in ``directory``, and with ``previous`` its container's
    run before a restart as ``<pod>.previous.log``: a killed pod's log is where its failure
    shows, and the pods are deleted right after."""
    for pod in pods:
        name = pod["metadata"]["name"]
        for which in ("", "--previous") if previous else ("",):
            args = ["logs", "-n", "logwax", name, *([which] if which else [])]
            text = kubectl.run(kubeconfig, *args, check=False)
            (directory / f"{name}{which.replace('--', '.')}.log").write_text(text)


def nobody_security_context() -> dict[str, Any]:
    """The container security context of the tests' own workload pods: uid nobody, nothing
    writable, no privileges, so they run where the shipped pods' restrictions apply."""
    return {
        "runAsUser": 65534,
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
