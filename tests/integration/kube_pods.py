"""Pods and their owners made as API objects, and log files written where the kubelet puts them.

There is no kubelet or controller manager: a pod is created already bound to a node
(``spec.nodeName``), its status (IP, container ids, image digests) is written the way the kubelet
would, and owners are created with the ``ownerReferences`` a controller would set.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from kubernetes import client, config
from prometheus_client import REGISTRY

from logwax.connectors.files import FilesSource, FilesSourceConfig
from logwax.connectors.k8s_metadata import KubernetesMetadataConfig
from logwax.connectors.k8s_metadata.cache import MetadataCache, acquire, release
from logwax.core.record import Record


class NamesStore:
    """A reflector's store that keeps only pod names and counts the lists: enough to see what
    a watch delivered, without the metadata cache around it."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.lists = 0

    def replace(self, objects: Iterable[dict[str, Any]]) -> int:
        """Counted once the pages were read: ``objects`` makes the list request only as it is
        iterated, and a test that waits for a list must see its request made."""
        self.names = {o["metadata"]["name"] for o in objects}
        self.lists += 1
        return len(self.names)

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        (self.names.discard if kind == "DELETED" else self.names.add)(obj["metadata"]["name"])

    def tick(self) -> None:
        return None


def api(kubeconfig: str) -> client.ApiClient:
    return config.new_client_from_config(kubeconfig)


def prepare_namespace(core: client.CoreV1Api, namespace: str, labels: dict[str, str]) -> None:
    """Labels on the namespace, and the ``default`` ServiceAccount pods need to be admitted."""
    core.patch_namespace(namespace, {"metadata": {"labels": labels}})
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "default"}})


def _template(labels: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
    }


def reference(obj: Any, kind: str, api_version: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": obj.metadata.name,
        "uid": obj.metadata.uid,
        "controller": True,
    }


def deployment_replica_set(api_client: client.ApiClient, namespace: str, name: str) -> Any:
    """A Deployment and the ReplicaSet its controller would have made; returns the RS's ref."""
    apps = client.AppsV1Api(api_client)
    labels = {"app": name}
    spec = {"replicas": 0, "selector": {"matchLabels": labels}, "template": _template(labels)}
    made = apps.create_namespaced_deployment(namespace, {"metadata": {"name": name}, "spec": spec})
    rs = apps.create_namespaced_replica_set(
        namespace,
        {
            "metadata": {
                "name": f"{name}-5d8f9",
                "ownerReferences": [reference(made, "Deployment", "apps/v1")],
            },
            "spec": spec,
        },
    )
    return reference(rs, "ReplicaSet", "apps/v1")


def cron_job_job(api_client: client.ApiClient, namespace: str, name: str) -> Any:
    """A CronJob and one Job it started; returns the Job's ref."""
    batch = client.BatchV1Api(api_client)
    job_spec = {
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "app", "image": "registry.example/app:1"}],
            }
        }
    }
    cron = batch.create_namespaced_cron_job(
        namespace,
        {
            "metadata": {"name": name},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": job_spec}},
        },
    )
    job = batch.create_namespaced_job(
        namespace,
        {
            "metadata": {
                "name": f"{name}-29012345",
                "ownerReferences": [reference(cron, "CronJob", "batch/v1")],
            },
            "spec": {**job_spec, "suspend": True},
        },
    )
    return reference(job, "Job", "batch/v1")


def stateful_set(api_client: client.ApiClient, namespace: str, name: str) -> Any:
    return _apps_workload(
        api_client, namespace, name, "StatefulSet", {"replicas": 0, "serviceName": name}
    )


def daemon_set(api_client: client.ApiClient, namespace: str, name: str) -> Any:
    return _apps_workload(api_client, namespace, name, "DaemonSet", {})


def _apps_workload(
    api_client: client.ApiClient, namespace: str, name: str, kind: str, spec: dict[str, Any]
) -> Any:
    """An apps/v1 workload whose pods are labelled ``app=<name>``; its owner reference."""
    apps = client.AppsV1Api(api_client)
    create = {
        "StatefulSet": apps.create_namespaced_stateful_set,
        "DaemonSet": apps.create_namespaced_daemon_set,
    }[kind]
    labels = {"app": name}
    made = create(
        namespace,
        {
            "metadata": {"name": name},
            "spec": {**spec, "selector": {"matchLabels": labels}, "template": _template(labels)},
        },
    )
    return reference(made, kind, "apps/v1")


def pod_body(
    name: str,
    node: str,
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
    owner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    if owner:
        metadata["ownerReferences"] = [owner]
    return {
        "metadata": metadata,
        "spec": {
            "nodeName": node,
            "containers": [
                {"name": "app", "image": "registry.example/app:1"},
                {"name": "sidecar", "image": "registry.example/proxy:2"},
            ],
        },
    }


def make_pod(
    core: client.CoreV1Api,
    namespace: str,
    name: str,
    node: str,
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
    owner: dict[str, Any] | None = None,
    ip: str = "10.244.0.7",
) -> str:
    """A running pod as the kubelet would report it; returns its uid."""
    made = core.create_namespaced_pod(namespace, pod_body(name, node, labels, annotations, owner))
    statuses = [
        {
            "name": container,
            "image": image,
            "imageID": f"{image.split(':')[0]}@sha256:{container[0] * 64}",
            "containerID": f"containerd://{uuid.uuid4().hex}",
            "ready": True,
            "restartCount": 0,
            "state": {"running": {}},
        }
        for container, image in (
            ("app", "registry.example/app:1"),
            ("sidecar", "registry.example/proxy:2"),
        )
    ]
    core.patch_namespaced_pod_status(
        name, namespace, {"status": {"podIP": ip, "containerStatuses": statuses}}
    )
    return str(made.metadata.uid)


def delete_pod(core: client.CoreV1Api, namespace: str, name: str) -> None:
    """What the kubelet's final confirmation does: the object is gone at once."""
    core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)


def log_path(root: Path, namespace: str, pod: str, uid: str, container: str = "app") -> Path:
    """``<root>/pods/<namespace>_<pod>_<uid>/<container>/0.log``, the kubelet's layout."""
    path = root / "pods" / f"{namespace}_{pod}_{uid}" / container / "0.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def append(path: Path, lines: list[str]) -> None:
    with open(path, "a") as out:
        out.write("".join(f"{line}\n" for line in lines))


def metadata_settings(kubeconfig: str, node: str, **metadata: Any) -> KubernetesMetadataConfig:
    return KubernetesMetadataConfig.model_validate(
        {"kubeconfig": kubeconfig, "node_name": node, **metadata}
    )


@contextlib.contextmanager
def shared_cache(kubeconfig: str, node: str, **metadata: Any) -> Iterator[MetadataCache]:
    """The very cache a partition with the same settings uses, to see what it has seen."""
    cache = acquire(metadata_settings(kubeconfig, node, **metadata))
    try:
        yield cache
    finally:
        release(cache)


def files_partition(root: Path, kubeconfig: str, node: str, name: str = "", **metadata: Any) -> Any:
    """A files source partition over ``root/pods``, with Kubernetes metadata on."""
    settings = FilesSourceConfig.model_validate(
        {
            "type": "files",
            "name": name or f"pods-{uuid.uuid4().hex[:8]}",
            "include": [f"{root}/pods/*/*/*.log"],
            "scan_interval": "100ms",
            "poll_interval": "50ms",
            "kubernetes_metadata": metadata_settings(kubeconfig, node, **metadata),
        }
    )
    return FilesSource(settings).build_part("test", settings.name, None)


def read_until(
    partition: Any, done: Callable[[list[Record]], bool], timeout: float = 20.0
) -> list[Record]:
    """Records read until ``done`` says enough, or fail after ``timeout`` seconds."""
    got: list[Record] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got.extend(partition.next_batch())
        if done(got):
            return got
        time.sleep(0.05)
    raise AssertionError(f"gave up after {timeout}s with {len(got)} records: {got[-3:]}")


def messages(wanted: set[str]) -> Callable[[list[Record]], bool]:
    return lambda got: wanted <= {r.message for r in got}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> float:
    """Poll ``check`` (bounded); returns the seconds it took."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if check():
            return time.monotonic() - began
        time.sleep(0.05)
    raise AssertionError(f"{what}: not true after {timeout}s")


def lookups(source: str, result: str) -> float:
    """``logwax_kubernetes_metadata_lookups_total`` of one source and result, as scraped."""
    value = REGISTRY.get_sample_value(
        "logwax_kubernetes_metadata_lookups_total", {"source": source, "result": result}
    )
    return value or 0.0


def delete_pods(kubeconfig: str, namespace: str) -> None:
    """Pods bound to a node outlive their namespace when no kubelet confirms their deletion."""
    client.CoreV1Api(api(kubeconfig)).delete_collection_namespaced_pod(
        namespace, grace_period_seconds=0
    )
