"""The collect DaemonSet's ClusterRole, applied to the real API server: with only its token the
metadata cache lists, watches and resolves owners; anything else is refused."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.integration.brokers import Cluster
from tests.integration.kube_pods import (
    api,
    append,
    delete_pods,
    deployment_replica_set,
    files_partition,
    log_path,
    make_pod,
    messages,
    read_until,
)

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "collect" / "rbac.yaml"


@pytest.fixture
def collect_token(kube: Cluster, kube_namespace: str, tmp_path: Path) -> Iterator[str]:
    """A kubeconfig holding a token of a ServiceAccount bound to the shipped ClusterRole only."""
    admin = api(kube.kubeconfig)
    rbac = client.RbacAuthorizationV1Api(admin)
    core = client.CoreV1Api(admin)
    role, binding = list(yaml.safe_load_all(RBAC.read_text()))
    suffix = uuid.uuid4().hex[:8]
    role["metadata"]["name"] = f"{role['metadata']['name']}-{suffix}"
    binding["metadata"]["name"] = role["metadata"]["name"]
    binding["roleRef"]["name"] = role["metadata"]["name"]
    binding["subjects"] = [
        {"kind": "ServiceAccount", "name": "logwax-collect", "namespace": kube_namespace}
    ]
    core.create_namespaced_service_account(kube_namespace, {"metadata": {"name": "logwax-collect"}})
    rbac.create_cluster_role(role)
    rbac.create_cluster_role_binding(binding)
    try:
        token = core.create_namespaced_service_account_token(
            "logwax-collect", kube_namespace, {"spec": {"expirationSeconds": 3600}}
        ).status.token
        given = json.loads(Path(kube.kubeconfig).read_text())
        given["users"] = [{"name": "logwax-admin", "user": {"token": token}}]
        path = tmp_path / "collect.kubeconfig"
        path.write_text(json.dumps(given))
        yield str(path)
    finally:
        rbac.delete_cluster_role_binding(binding["metadata"]["name"])
        rbac.delete_cluster_role(role["metadata"]["name"])


@pytest.fixture(autouse=True)
def _pods_deleted(kube: Cluster, kube_namespace: str) -> Iterator[None]:
    yield
    delete_pods(kube.kubeconfig, kube_namespace)


def _allowed(kubeconfig: str, attributes: dict[str, Any]) -> bool:
    review = client.AuthorizationV1Api(api(kubeconfig)).create_self_subject_access_review(
        {"spec": {"resourceAttributes": attributes}}
    )
    return bool(review.status.allowed)


def test_the_collect_role_is_enough_and_no_more(
    kube: Cluster, kube_namespace: str, collect_token: str, tmp_path: Path
) -> None:
    admin = api(kube.kubeconfig)
    core = client.CoreV1Api(admin)
    ns, node = kube_namespace, f"node-{uuid.uuid4().hex[:8]}"
    core.patch_namespace(ns, {"metadata": {"labels": {"team": "rbac"}}})
    core.create_namespaced_service_account(ns, {"metadata": {"name": "default"}})
    uid = make_pod(
        core, ns, "web-1", node, {"app": "web"}, owner=deployment_replica_set(admin, ns, "web")
    )
    append(log_path(tmp_path, ns, "web-1", uid), ["hello"])
    partition = files_partition(tmp_path, collect_token, node, metadata_wait="10s")
    try:
        records = read_until(partition, messages({"hello"}))
    finally:
        partition.close()
    kubernetes = records[-1].fields["kubernetes"]
    assert kubernetes["labels"] == {"app": "web"}
    assert kubernetes["namespace_labels"]["team"] == "rbac"
    assert kubernetes["deployment"] == {"name": "web"}

    for verb in ("get", "list", "watch"):
        assert _allowed(collect_token, {"verb": verb, "resource": "pods"})
    assert _allowed(collect_token, {"verb": "get", "group": "batch", "resource": "jobs"})
    for refused in (
        {"verb": "list", "resource": "secrets"},
        {"verb": "get", "resource": "configmaps", "namespace": ns},
        {"verb": "create", "resource": "pods", "namespace": ns},
        {"verb": "patch", "resource": "namespaces"},
        {"verb": "list", "resource": "nodes"},
        {"verb": "get", "group": "apps", "resource": "deployments"},
        {"verb": "delete", "group": "apps", "resource": "replicasets", "namespace": ns},
    ):
        assert not _allowed(collect_token, refused), refused
