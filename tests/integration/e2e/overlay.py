"""The kustomize test overlay of ``deploy/k8s``: what a loopback-only node needs, nothing else.

It changes only where things are, never how the pod is secured: the locally built image with
``imagePullPolicy: Never``; the host network (no kube-proxy, no pod network off the machine);
Kafka (the secured test broker: SASL_SSL, its password and CA in the Secret and ConfigMap the
manifest mounts), the topic and the API server at their loopback addresses through the
environment (the API server's Service IP has no proxy behind it); the metrics port moved off the
shipped 9108, which is shared on a host network; the per-node recovery hostPath under the test's
directory. The security context, probes, resources and RBAC are the shipped ones.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from devtools import tools
from devtools.home import paths

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "k8s"


LOCAL_IMAGE = {"name": "logwax", "newName": "logwax", "newTag": "dev"}


def api_server_env(api_port: int) -> list[dict[str, str]]:
    """The API server at its loopback address: its Service IP has no kube-proxy behind it."""
    return [
        {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
        {"name": "KUBERNETES_SERVICE_PORT", "value": str(api_port)},
    ]


def metrics_port_patch(metrics_port: int) -> list[dict[str, Any]]:
    """JSON patch ops moving a one-pod workload's metrics port off the shipped one, which other
    pods share on a host network; the ``test`` op fails the build if the args ever move."""
    container = "/spec/template/spec/containers/0"
    return [
        {"op": "replace", "path": f"{container}/ports/0/containerPort", "value": metrics_port},
        {"op": "test", "path": f"{container}/args/5", "value": "--metrics-port"},
        {"op": "replace", "path": f"{container}/args/6", "value": str(metrics_port)},
    ]


def workload_patches(
    kind: str,
    name: str,
    *,
    env: list[dict[str, Any]],
    ports: list[dict[str, Any]],
    spec: dict[str, Any] | None = None,
    pod_spec: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The two patches of every overlay's workload: a merge patch putting its pod on the host
    network with the local image (never pulled) and ``env``, plus any ``spec`` and ``pod_spec``
    fields of its own; and the JSON patch ``ports`` of its metrics port and probes."""
    merge = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            **(spec or {}),
            "template": {
                "spec": {
                    "hostNetwork": True,
                    "dnsPolicy": "ClusterFirstWithHostNet",
                    "containers": [{"name": "logwax", "imagePullPolicy": "Never", "env": env}],
                    **(pod_spec or {}),
                }
            },
        },
    }
    target = {"kind": kind, "name": name}
    return [
        {"target": target, "patch": yaml.safe_dump(merge)},
        {"target": target, "patch": yaml.safe_dump(ports)},
    ]


def write_kustomization(
    directory: Path,
    component: str,
    *,
    patches: list[dict[str, Any]],
    resources: tuple[str, ...] = (),
    **generators: Any,
) -> None:
    """``directory``'s kustomization.yaml: the shipped base and ``component`` (plus the overlay's
    own ``resources``) in the logwax namespace, the local image, the overlay's Secret and
    ConfigMap ``generators`` (kustomization fields, in the order given) and its ``patches``."""
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "logwax",
        "resources": [
            os.path.relpath(DEPLOY / "base", directory),
            os.path.relpath(DEPLOY / component, directory),
            *resources,
        ],
        "images": [LOCAL_IMAGE],
        **generators,
        "patches": patches,
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))


def collect_overlay(
    directory: Path,
    *,
    bootstrap: str,
    topic: str,
    api_port: int,
    metrics_port: int,
    recovery: Path,
    kafka_password: str,
    kafka_ca: Path,
) -> Path:
    """Write the overlay into ``directory``; returns it (``kustomize build`` it). Kafka is
    reached as shipped: SASL_SSL as ``logwax-collect``, its password from the Secret and the CA
    from the ConfigMap the DaemonSet mounts."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "password").write_text(kafka_password)
    (directory / "ca.crt").write_text(kafka_ca.read_text())
    env = [
        {"name": "LOGWAX_KAFKA__BOOTSTRAP_SERVERS", "value": bootstrap},
        {"name": "LOGWAX_KAFKA__TOPIC", "value": topic},
        *api_server_env(api_port),
    ]
    recovery_volume = {
        "name": "recovery",
        "hostPath": {"path": str(recovery), "type": "DirectoryOrCreate"},
    }
    write_kustomization(
        directory,
        "collect",
        secretGenerator=[{"name": "logwax-collect-kafka", "files": ["password"]}],
        configMapGenerator=[{"name": "logwax-kafka-ca", "files": ["ca.crt"]}],
        generatorOptions={"disableNameSuffixHash": True},
        patches=workload_patches(
            "DaemonSet",
            "logwax-collect",
            env=env,
            ports=metrics_port_patch(metrics_port),
            pod_spec={
                # the init container that hands the recovery hostPath to uid 10001: local image
                "initContainers": [{"name": "recovery-owner", "imagePullPolicy": "Never"}],
                "volumes": [recovery_volume],
            },
        ),
    )
    return directory


def render(directory: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(tools.kustomize(paths())), "build", str(directory)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def index_overlay(
    directory: Path,
    *,
    pipeline: dict[str, Any],
    metrics_ports: int,
    replicas: int = 1,
) -> Path:
    """The index StatefulSet's overlay: its pipeline pointed at the loopback dev servers' plain
    listeners (``pipeline``; the SASL_SSL settings are tested against the secured broker
    elsewhere), placeholder Secrets and CA ConfigMaps for the volumes the manifest mounts, and
    the host network.

    On one host network the pods of a StatefulSet would all bind the same metrics port, so each
    takes ``metrics_ports`` + its ordinal (the ``apps.kubernetes.io/pod-index`` label through
    the downward API, ``metrics_ports`` a multiple of 10, ordinals below 10), and its probes,
    which cannot name a per-pod port, ask that port's /healthz and /readyz from inside the pod.
    The declared container ports go: on the host network each is also a host port, and the
    scheduler would then fit one pod per node.
    """
    directory.mkdir(parents=True, exist_ok=True)
    assert metrics_ports % 10 == 0
    (directory / "pipeline.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    (directory / "placeholder").write_text("unused: the test pipeline has no TLS nor credentials\n")
    probe = "import os,urllib.request as u;u.urlopen('http://127.0.0.1:%s/{}' % os.environ['PORT'])"
    env: list[dict[str, Any]] = [
        {
            "name": "ORDINAL",
            "valueFrom": {
                "fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}
            },
        },
        {"name": "PORT", "value": f"{metrics_ports // 10}$(ORDINAL)"},
    ]
    container = "/spec/template/spec/containers/0"
    ports = [
        # On the host network a containerPort is a hostPort too: one pod per node would fit.
        {"op": "remove", "path": f"{container}/ports"},
        {"op": "test", "path": f"{container}/args/5", "value": "--metrics-port"},
        {"op": "replace", "path": f"{container}/args/6", "value": "$(PORT)"},
    ]
    for kind, path in (("livenessProbe", "healthz"), ("readinessProbe", "readyz")):
        ports.append({"op": "remove", "path": f"{container}/{kind}/httpGet"})
        command = ["python", "-c", probe.format(path)]
        ports.append(
            {"op": "add", "path": f"{container}/{kind}/exec", "value": {"command": command}}
        )
    placeholder = {"options": {"disableNameSuffixHash": True}}
    write_kustomization(
        directory,
        "index",
        configMapGenerator=[
            {"name": "logwax-index", "behavior": "replace", "files": ["pipeline.yaml"]},
            *(
                {"name": name, "files": ["ca.crt=placeholder"], **placeholder}
                for name in ("logwax-kafka-ca", "logwax-elasticsearch-ca")
            ),
        ],
        secretGenerator=[
            {"name": "logwax-index-kafka", "files": ["password=placeholder"], **placeholder},
            {"name": "logwax-index-elasticsearch", "files": ["api-key=placeholder"], **placeholder},
        ],
        patches=workload_patches(
            "StatefulSet", "logwax-index", env=env, ports=ports, spec={"replicas": replicas}
        ),
    )
    return directory
