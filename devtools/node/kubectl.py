"""``kubectl`` built at the cluster's pinned version, against the node's API server.

The same binary the e2e tests and a developer use (``apply -k``, ``get``, ``delete``, ``scale``),
so what the tests do is what the README tells people to do.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from devtools import kubernetes
from devtools.errors import DevServerError
from devtools.home import paths


def run(kubeconfig: str, *args: str, stdin: str | None = None, check: bool = True) -> str:
    binary = kubernetes.build(paths(), "kubectl")
    result = subprocess.run(
        [str(binary), f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise DevServerError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout


def get(kubeconfig: str, *args: str) -> dict[str, Any]:
    """``kubectl get ... -o json`` parsed."""
    loaded: dict[str, Any] = json.loads(run(kubeconfig, "get", *args, "-o", "json"))
    return loaded


def condition(obj: dict[str, Any], kind: str) -> str | None:
    for item in obj.get("status", {}).get("conditions") or []:
        if item.get("type") == kind:
            return str(item.get("status"))
    return None
