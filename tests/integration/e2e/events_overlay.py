"""The kustomize test overlay of the events Deployment (see ``overlay`` for what an overlay may
change): Elasticsearch reached the shipped way at a loopback proxy, its claim on a hostPath."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import yaml

from tests.integration.e2e.overlay import DEPLOY


def events_overlay(
    directory: Path,
    *,
    es_url: str,
    index: str,
    api_key: str,
    ca_file: Path,
    api_port: int,
    metrics_port: int,
    recovery: Path,
) -> Path:
    """The events Deployment as shipped, reaching Elasticsearch the shipped way (TLS, an API key
    from a Secret, the CA from a ConfigMap) at a loopback proxy; its claim bound to a hostPath
    volume under ``recovery`` (a node has no provisioner). Write it into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "api-key").write_text(api_key)
    (directory / "ca.crt").write_text(ca_file.read_text())
    volume = f"logwax-events-{uuid.uuid4().hex[:8]}"  # cluster-wide: one per test
    env = [
        {"name": "LOGWAX_ELASTICSEARCH__HOSTS", "value": f'["{es_url}"]'},
        {"name": "LOGWAX_ELASTICSEARCH__INDEX", "value": index},
        {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
        {"name": "KUBERNETES_SERVICE_PORT", "value": str(api_port)},
    ]
    merge = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "logwax-events"},
        "spec": {
            "template": {
                "spec": {
                    "hostNetwork": True,
                    "dnsPolicy": "ClusterFirstWithHostNet",
                    "containers": [{"name": "logwax", "imagePullPolicy": "Never", "env": env}],
                }
            }
        },
    }
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "logwax-events-recovery"},
        "spec": {"storageClassName": "", "volumeName": volume},
    }
    persistent_volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": volume},
        "spec": {
            "capacity": {"storage": "256Mi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": str(recovery), "type": "Directory"},
        },
    }
    (directory / "volume.yaml").write_text(yaml.safe_dump(persistent_volume))
    container = "/spec/template/spec/containers/0"
    ports = [
        {"op": "replace", "path": f"{container}/ports/0/containerPort", "value": metrics_port},
        {"op": "test", "path": f"{container}/args/5", "value": "--metrics-port"},
        {"op": "replace", "path": f"{container}/args/6", "value": str(metrics_port)},
    ]
    target = {"kind": "Deployment", "name": "logwax-events"}
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "logwax",
        "resources": [
            os.path.relpath(DEPLOY / "base", directory),
            os.path.relpath(DEPLOY / "events", directory),
            "volume.yaml",
        ],
        "images": [{"name": "logwax", "newName": "logwax", "newTag": "dev"}],
        "secretGenerator": [
            {"name": "logwax-events-elasticsearch", "files": ["api-key"]},
        ],
        "configMapGenerator": [{"name": "logwax-elasticsearch-ca", "files": ["ca.crt"]}],
        "generatorOptions": {"disableNameSuffixHash": True},
        "patches": [
            {"target": target, "patch": yaml.safe_dump(merge)},
            {"target": target, "patch": yaml.safe_dump(ports)},
            {"patch": yaml.safe_dump(claim)},
        ],
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return directory
