"""A ServiceAccount with a Role on Events, its token in a file the source's kubeconfig names,
and the RBAC and credential changes the fault tests make while the source runs."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

VERBS = ("get", "list", "watch")
ACCOUNT = "logwax-events"


@dataclass(frozen=True)
class Access:
    namespace: str
    kubeconfig: Path  # the source's: the ServiceAccount's token, read from token_file
    token_file: Path
    admin: client.ApiClient


def _role(verbs: tuple[str, ...]) -> dict[str, object]:
    return {
        "metadata": {"name": ACCOUNT},
        "rules": [{"apiGroups": [""], "resources": ["events"], "verbs": list(verbs)}],
    }


def grant(admin_kubeconfig: str, namespace: str, directory: Path) -> Access:
    admin = config.new_client_from_config(admin_kubeconfig)
    core, rbac = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": ACCOUNT}})
    rbac.create_namespaced_role(namespace, _role(VERBS))
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": ACCOUNT},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ACCOUNT},
            "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": namespace}],
        },
    )
    admin_config = json.loads(Path(admin_kubeconfig).read_text())
    token_file = directory / "token"
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "sa",
                "clusters": admin_config["clusters"],
                "users": [{"name": "sa", "user": {"tokenFile": str(token_file)}}],
                "contexts": [
                    {
                        "name": "sa",
                        "context": {"cluster": admin_config["clusters"][0]["name"], "user": "sa"},
                    }
                ],
            }
        )
    )
    access = Access(namespace, kubeconfig, token_file, admin)
    issue_token(access)
    return access


def issue_token(access: Access) -> None:
    """A new bound token (what kubelet writes into the projected volume), replacing the file."""
    request = client.CoreV1Api(access.admin).create_namespaced_service_account_token(
        ACCOUNT, access.namespace, {"spec": {"expirationSeconds": 3600}}
    )
    access.token_file.write_text(request.status.token)


def revoke_token(access: Access) -> None:
    """Deleting the ServiceAccount invalidates every token bound to it (401 from then on)."""
    client.CoreV1Api(access.admin).delete_namespaced_service_account(ACCOUNT, access.namespace)


def recreate_account(access: Access) -> None:
    client.CoreV1Api(access.admin).create_namespaced_service_account(
        access.namespace, {"metadata": {"name": ACCOUNT}}
    )
    issue_token(access)


def set_verbs(access: Access, verbs: tuple[str, ...]) -> None:
    client.RbacAuthorizationV1Api(access.admin).replace_namespaced_role(
        ACCOUNT, access.namespace, _role(verbs)
    )


def status_of(access: Access, verb: str) -> int:
    """What the API server answers the ServiceAccount now for ``verb`` on Events."""
    core = client.CoreV1Api(config.new_client_from_config(str(access.kubeconfig)))
    try:
        if verb == "watch":
            response = core.list_namespaced_event(
                access.namespace, watch=True, timeout_seconds=1, _preload_content=False
            )
            response.close()
        else:
            core.list_namespaced_event(access.namespace, limit=1)
    except ApiException as exc:
        return int(exc.status)
    return 200


def wait_status(access: Access, verb: str, want: int, timeout: float = 20) -> None:
    """RBAC and token changes reach the authorizer through informers: wait until they did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status_of(access, verb) == want:
            return
        time.sleep(0.1)
    raise AssertionError(f"{verb} did not answer {want} within {timeout}s")
