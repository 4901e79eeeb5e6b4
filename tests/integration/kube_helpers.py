"""Creating, bumping and deleting Events through a real API server, as controllers do."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config


def core_api(kubeconfig: str) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(kubeconfig))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_event(core: client.CoreV1Api, namespace: str, name: str) -> Any:
    body = {
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {"kind": "Pod", "name": f"pod-{name}", "namespace": namespace},
        "reason": "Scheduled",
        "message": f"{name} happened",
        "type": "Normal",
        "count": 1,
        "firstTimestamp": now(),
        "lastTimestamp": now(),
        "source": {"component": "logwax-test"},
    }
    return core.create_namespaced_event(namespace, body)


def create_events(
    core: client.CoreV1Api, namespace: str, prefix: str, numbers: Iterable[int]
) -> list[str]:
    """Events named ``{prefix}{number}``, one per number; the messages the source will read."""
    names = [f"{prefix}{i}" for i in numbers]
    for name in names:
        create_event(core, namespace, name)
    return [f"{name} happened" for name in names]


def bump_event(core: client.CoreV1Api, namespace: str, name: str, count: int) -> Any:
    """What the kubelet does when an event repeats: count and lastTimestamp change."""
    patch = {"count": count, "lastTimestamp": now(), "message": f"{name} happened x{count}"}
    return core.patch_namespaced_event(name, namespace, patch)


def compact_etcd(etcd_url: str) -> int:
    """Compact etcd's history up to now, so older resourceVersions answer 410 Gone."""

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{etcd_url}{path}", data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.load(response)
            return answer

    revision = int(post("/v3/kv/range", {"key": "AA=="})["header"]["revision"])
    post("/v3/kv/compaction", {"revision": str(revision), "physical": True})
    return revision


def delete_namespace_now(core: client.CoreV1Api, namespace: str) -> None:
    """What the namespace controller (not run by this API server) does: empty it, then finalize,
    so the name is free again at once."""
    core.delete_collection_namespaced_event(namespace)
    core.delete_namespace(namespace)
    core.replace_namespace_finalize(
        namespace,
        {"metadata": {"name": namespace}, "spec": {"finalizers": []}},
    )
