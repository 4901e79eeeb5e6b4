"""deploy/k8s rendered by the real kustomize and applied with a server-side dry run to a real
kube-apiserver, with strict field validation: what ``kubectl apply -k deploy/k8s`` would do."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config, dynamic

from devtools import paths, tools
from logwax.settings import parse_config
from tests.integration.brokers import Cluster

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    binary = tools.kustomize(paths())
    out = subprocess.run(
        [str(binary), "build", str(DEPLOY)], capture_output=True, text=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_the_three_jobs_are_rendered_with_their_parts(rendered: list[dict[str, Any]]) -> None:
    kinds = Counter(doc["kind"] for doc in rendered)
    assert kinds["DaemonSet"] == kinds["StatefulSet"] == kinds["Deployment"] == 1
    assert kinds["ServiceAccount"] == 3 and kinds["ConfigMap"] == 3
    assert kinds["PodDisruptionBudget"] == 1 and kinds["Service"] == 1
    read = ["get", "list", "watch"]
    roles = {
        doc["metadata"]["name"]: doc["rules"] for doc in rendered if doc["kind"] == "ClusterRole"
    }
    assert roles == {
        "logwax-events-reader": [
            {"apiGroups": [""], "resources": ["events"], "verbs": read},
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
        ],
        "logwax-collect-metadata": [
            {"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": read},
            {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": read},
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": read},
        ],
    }
    bindings = {
        doc["roleRef"]["name"]: doc["subjects"]
        for doc in rendered
        if doc["kind"] == "ClusterRoleBinding"
    }
    assert bindings["logwax-collect-metadata"] == [
        {"kind": "ServiceAccount", "name": "logwax-collect", "namespace": "logwax"}
    ]
    for doc in rendered:
        if doc["kind"] in ("DaemonSet", "StatefulSet", "Deployment"):
            pod = doc["spec"]["template"]["spec"]
            container = pod["containers"][0]
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["image"] == "ghcr.io/logwax/logwax:0.1.0"
            assert "limits" in container["resources"]
            check_security_contexts(doc["kind"], pod)
        if doc["kind"] == "ConfigMap":  # the pipeline files shipped in the manifests are valid
            parse_config(yaml.safe_load(doc["data"]["pipeline.yaml"]), doc["metadata"]["name"])


def check_security_contexts(kind: str, pod: dict[str, Any]) -> None:
    """Every job runs as uid 10001, non-root, on a read-only root filesystem with every
    capability dropped and none added. The one exception is the collect DaemonSet's init
    container, root with CAP_CHOWN alone to hand the recovery hostPath to uid 10001; its logwax
    reads root's host logs through supplementary group 0 instead of a capability."""
    secured = pod["securityContext"]
    assert (secured["runAsNonRoot"], secured["runAsUser"], secured["runAsGroup"]) == (
        True,
        10001,
        10001,
    )
    assert secured["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        context = container["securityContext"]
        assert "runAsUser" not in context and "runAsNonRoot" not in context
        assert context == {
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        }
    inits = pod.get("initContainers", [])
    assert [init["name"] for init in inits] == (["recovery-owner"] if kind == "DaemonSet" else [])
    for init in inits:
        assert init["securityContext"] == {
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]},
        }
        mounts = {m["name"] for m in init["volumeMounts"]}
        assert mounts == {"recovery"}
    if kind == "DaemonSet":
        assert secured["supplementalGroups"][0] == 0


def dry_run_create(api_client: client.ApiClient, path: str, body: dict[str, Any]) -> None:
    """POST with ``dryRun=All`` and ``fieldValidation=Strict``: validated, stored nowhere."""
    settings = api_client.configuration
    token = settings.api_key.get("authorization") or settings.api_key.get("BearerToken", "")
    request = urllib.request.Request(
        f"{settings.host}{path}?dryRun=All&fieldValidation=Strict",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": token if token.startswith("Bearer") else f"Bearer {token}",
        },
    )
    context = ssl.create_default_context(cafile=settings.ssl_ca_cert)
    try:
        with urllib.request.urlopen(request, context=context, timeout=30):
            return
    except urllib.error.HTTPError as exc:
        raise AssertionError(
            f"{body['kind']}/{body['metadata']['name']} refused: {exc.read().decode()[:1000]}"
        ) from None


def test_strict_dry_run_refuses_an_unknown_field(kube: Cluster) -> None:
    api_client = config.new_client_from_config(kube.kubeconfig)
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "data": {},
        "bogus": 1,
    }
    with pytest.raises(AssertionError, match="bogus"):
        dry_run_create(api_client, "/api/v1/namespaces/default/configmaps", body)


def test_server_side_dry_run_accepts_every_object(
    rendered: list[dict[str, Any]], kube: Cluster, kube_namespace: str
) -> None:
    """Applied into a fresh namespace (this API server runs no namespace controller, so a
    deleted namespace never finishes terminating and cannot be reused)."""
    api_client = config.new_client_from_config(kube.kubeconfig)
    api = dynamic.DynamicClient(api_client)
    accepted = []
    for original in rendered:
        if original["kind"] == "Namespace":
            continue  # the test's own namespace stands in for it
        doc = json.loads(
            json.dumps(original).replace(
                '"namespace": "logwax"', f'"namespace": "{kube_namespace}"'
            )
        )
        resource = api.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        path = resource.path(namespace=kube_namespace) if resource.namespaced else resource.path()
        dry_run_create(api_client, path, doc)
        accepted.append(f"{doc['kind']}/{doc['metadata']['name']}")
    assert len(accepted) == len(rendered) - 1


def _secret_paths(section: Any, trail: str = "") -> list[tuple[str, str]]:
    """(setting, path) for every secret file and CA a pipeline names, at any depth."""
    found: list[tuple[str, str]] = []
    if isinstance(section, dict):
        for key, value in section.items():
            if isinstance(value, (dict, list)):
                found += _secret_paths(value, f"{trail}{key}.")
            elif key.endswith("_file") or key in ("ssl_ca_location", "ca_certs"):
                found.append((f"{trail}{key}", str(value)))
    elif isinstance(section, list):
        for item in section:
            found += _secret_paths(item, trail)
    return found


def test_each_job_mounts_its_secret_files_and_ca_where_its_pipeline_reads_them(
    rendered: list[dict[str, Any]],
) -> None:
    config_maps = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "ConfigMap"}
    checked = Counter[str]()
    for doc in rendered:
        if doc["kind"] not in ("DaemonSet", "StatefulSet", "Deployment"):
            continue
        pod = doc["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = pod["containers"][0]["volumeMounts"]
        pipeline_map = volumes["config"]["configMap"]["name"]
        pipeline = yaml.safe_load(config_maps[pipeline_map]["data"]["pipeline.yaml"])
        wanted = _secret_paths(pipeline)
        assert wanted, f"{doc['metadata']['name']}: no credential or CA files in its pipeline"
        for setting, path in wanted:
            mount = next(
                (m for m in mounts if path.startswith(m["mountPath"].rstrip("/") + "/")), None
            )
            assert mount is not None, f"{doc['metadata']['name']}: {setting} {path} not mounted"
            volume = volumes[mount["name"]]
            if setting.endswith("_file"):  # secrets only from Secrets, readable by the group
                assert "secret" in volume and volume["secret"]["defaultMode"] == 0o440
            else:
                assert "configMap" in volume or "secret" in volume
            checked[doc["kind"]] += 1
    assert checked == {"DaemonSet": 2, "Deployment": 2, "StatefulSet": 4}
