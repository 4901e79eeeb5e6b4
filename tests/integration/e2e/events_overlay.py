"""The kustomize test overlay of the events Deployment (see ``overlay`` for what an overlay may
change): Elasticsearch reached the shipped way at a loopback proxy, its claim on a hostPath."""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml

from tests.integration.e2e.overlay import (
    api_server_env,
    metrics_port_patch,
    workload_patches,
    write_kustomization,
)


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
        *api_server_env(api_port),
    ]
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
    write_kustomization(
        directory,
        "events",
        resources=("volume.yaml",),
        secretGenerator=[
            {"name": "logwax-events-elasticsearch", "files": ["api-key"]},
        ],
        configMapGenerator=[{"name": "logwax-elasticsearch-ca", "files": ["ca.crt"]}],
        generatorOptions={"disableNameSuffixHash": True},
        patches=[
            *workload_patches(
                "Deployment", "logwax-events", env=env, ports=metrics_port_patch(metrics_port)
            ),
            {"patch": yaml.safe_dump(claim)},
        ],
    )
    return directory
