"""Memory of the metadata cache with 5,000 pods on its node, made as real API objects."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client

from tests.integration.brokers import Cluster
from tests.integration.kube_pods import api, pod_body, prepare_namespace

PODS = 5_000
REPO = Path(__file__).resolve().parents[2]


def _make(core: client.CoreV1Api, namespace: str, node: str, i: int) -> None:
    """A pod the size of a real Deployment's: five labels, a bulky annotation, two containers."""
    name = f"web-{i % 50:02d}-{i:05d}"
    labels = {
        "app": f"web-{i % 50:02d}",
        "pod-template-hash": f"{i % 50:08x}",
        "tier": "frontend",
        "version": "1.4.2",
        "app.kubernetes.io/name": "web",
    }
    annotations = {
        "kubectl.kubernetes.io/restartedAt": "2026-11-28T10:00:00Z",
        "checksum/config": "0" * 64,
        "prometheus.io/scrape": "true",
    }
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": f"web-{i % 50:02d}-{i % 50:08x}",
        "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"rs{i % 50}")),
        "controller": True,
    }
    core.create_namespaced_pod(namespace, pod_body(name, node, labels, annotations, owner))
    statuses = [
        {
            "name": container,
            "image": f"registry.example/{container}:1.4.2",
            "imageID": f"registry.example/{container}@sha256:{'b' * 64}",
            "containerID": f"containerd://{uuid.uuid4().hex}{uuid.uuid4().hex}",
            "ready": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": "2026-11-28T10:00:00Z"}},
        }
        for container in ("app", "sidecar")
    ]
    core.patch_namespaced_pod_status(
        name,
        namespace,
        {
            "status": {
                "podIP": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                "containerStatuses": statuses,
            }
        },
    )


def test_five_thousand_pods_fit_in_under_100_mb(kube: Cluster, kube_namespace: str) -> None:
    core = client.CoreV1Api(api(kube.kubeconfig))
    prepare_namespace(core, kube_namespace, {})
    node = f"node-{uuid.uuid4().hex[:8]}"
    began = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(lambda i: _make(core, kube_namespace, node, i), range(PODS)))
        made_s = time.monotonic() - began
        out = subprocess.run(
            [sys.executable, "-m", "tests.integration.cache_rss", kube.kubeconfig, node, str(PODS)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=400,
            check=True,
        ).stdout
    finally:
        core.delete_collection_namespaced_pod(kube_namespace, grace_period_seconds=0)
    figures = json.loads(out.strip().splitlines()[-1])
    print(f"\n{PODS} pods made in {made_s:.0f}s; cache: {figures}")
    assert figures["pods"] == PODS
    assert figures["cache_mb"] < 100, figures
