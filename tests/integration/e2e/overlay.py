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
        {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
        {"name": "KUBERNETES_SERVICE_PORT", "value": str(api_port)},
    ]
    merge = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "logwax-collect"},
        "spec": {
            "template": {
                "spec": {
                    "hostNetwork": True,
                    "dnsPolicy": "ClusterFirstWithHostNet",
                    "containers": [{"name": "logwax", "imagePullPolicy": "Never", "env": env}],
                    "volumes": [
                        {
                            "name": "recovery",
                            "hostPath": {"path": str(recovery), "type": "DirectoryOrCreate"},
                        }
                    ],
                }
            }
        },
    }
    container = "/spec/template/spec/containers/0"
    ports = [
        {"op": "replace", "path": f"{container}/ports/0/containerPort", "value": metrics_port},
        {"op": "test", "path": f"{container}/args/5", "value": "--metrics-port"},
        {"op": "replace", "path": f"{container}/args/6", "value": str(metrics_port)},
    ]
    target = {"kind": "DaemonSet", "name": "logwax-collect"}
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "logwax",
        "resources": [
            os.path.relpath(DEPLOY / "base", directory),
            os.path.relpath(DEPLOY / "collect", directory),
        ],
        "images": [{"name": "logwax", "newName": "logwax", "newTag": "dev"}],
        "secretGenerator": [{"name": "logwax-collect-kafka", "files": ["password"]}],
        "configMapGenerator": [{"name": "logwax-kafka-ca", "files": ["ca.crt"]}],
        "generatorOptions": {"disableNameSuffixHash": True},
        "patches": [
            {"target": target, "patch": yaml.safe_dump(merge)},
            {"target": target, "patch": yaml.safe_dump(ports)},
        ],
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return directory


def render(directory: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(tools.kustomize(paths())), "build", str(directory)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]
