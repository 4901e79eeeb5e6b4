"""A pod as the cache keeps it: only what goes on a log line, not the API object.

A pod object is a few kilobytes of JSON and several times that as Python objects; the lines need
its labels, a few ids and the containers' images. Keeping only those is what holds 5,000 pods in a
few megabytes. Label keys repeat across pods, so they are interned.
"""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass
from typing import Any

from logwax.connectors.k8s_metadata.config import KubernetesMetadataConfig

# The workload kinds a pod's controller can be, and the ones that have an owner of their own.
OWNED_BY_PARENT = frozenset({"ReplicaSet", "Job"})
# A static pod's log directory carries the uid the kubelet gave it (a hash of its manifest); the
# mirror pod the API shows has another uid and names the kubelet's in this annotation.
MIRROR = "kubernetes.io/config.mirror"


@dataclass(frozen=True, slots=True)
class Container:
    image: str | None
    image_id: str | None
    container_id: str | None  # "<runtime>://<id>"


@dataclass(frozen=True, slots=True)
class Owner:
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class PodInfo:
    uid: str
    name: str
    namespace: str
    node: str
    ip: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    containers: dict[str, Container]
    owner: Owner | None
    resource_version: str
    mirror_of: str | None = None  # a static pod's uid on its node, for mirror pods


def _keys(values: dict[str, str] | None, dedot: bool) -> dict[str, str]:
    if not values:
        return {}
    return {
        sys.intern(k.replace(".", "_") if dedot else k): sys.intern(v) for k, v in values.items()
    }


def _allowed(annotations: dict[str, str] | None, patterns: tuple[str, ...]) -> dict[str, str]:
    if not annotations or not patterns:
        return {}
    return {
        k: v for k, v in annotations.items() if any(fnmatch.fnmatchcase(k, p) for p in patterns)
    }


def _controller(metadata: dict[str, Any]) -> Owner | None:
    references = metadata.get("ownerReferences") or []
    chosen = next((r for r in references if r.get("controller")), None)
    if chosen is None and references:
        chosen = references[0]
    if chosen is None:
        return None
    return Owner(sys.intern(chosen.get("kind", "")), chosen.get("name", ""))


def controller_of(obj: dict[str, Any]) -> Owner | None:
    """The controlling owner of any API object (a ReplicaSet's Deployment, a Job's CronJob)."""
    return _controller(obj.get("metadata") or {})


def _containers(spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Container]:
    images: dict[str, str | None] = {}
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or []:
            images[container.get("name", "")] = container.get("image")
    found: dict[str, Container] = {}
    for group in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for state in status.get(group) or []:
            name = state.get("name", "")
            image, image_id = images.get(name) or state.get("image"), state.get("imageID")
            found[sys.intern(name)] = Container(
                sys.intern(image) if image else None,
                sys.intern(image_id) if image_id else None,
                state.get("containerID") or None,
            )
    for name, image in images.items():
        found.setdefault(sys.intern(name), Container(image and sys.intern(image), None, None))
    return found


def pod_info(pod: dict[str, Any], config: KubernetesMetadataConfig) -> PodInfo:
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    return PodInfo(
        uid=metadata.get("uid", ""),
        name=metadata.get("name", ""),
        namespace=sys.intern(metadata.get("namespace", "")),
        node=sys.intern(spec.get("nodeName") or ""),
        ip=status.get("podIP"),
        labels=_keys(metadata.get("labels"), config.dedot),
        annotations=_keys(_allowed(metadata.get("annotations"), config.annotations), config.dedot),
        containers=_containers(spec, status),
        owner=_controller(metadata),
        resource_version=metadata.get("resourceVersion", ""),
        mirror_of=(metadata.get("annotations") or {}).get(MIRROR),
    )


def namespace_labels(namespace: dict[str, Any], config: KubernetesMetadataConfig) -> dict[str, str]:
    return _keys((namespace.get("metadata") or {}).get("labels"), config.dedot)
