"""The Kubernetes API client both Kubernetes connectors use (Events, and the metadata cache).

One place decides how logwax reaches the API server: the kubeconfig file when one is given,
in-cluster (the pod's ServiceAccount) inside a pod, else the user's default kubeconfig.

urllib3 would wait out a 429's (or 503's) ``Retry-After`` by itself, unseen: no metric, no
WARNING, no ``/readyz``. Its retries are kept for dropped connections only, so a throttled
answer reaches the caller's retry path, which waits as long as the server asks and counts it.

Which failed answers are worth another attempt: all of them. A 403 during an RBAC change, a 401
after a token rotation, a 429, a 5xx, a 410 while listing again, a reset connection: none is a
reason to stop following the API; the caller's backoff keeps the attempts bounded.
``classify`` names the counter's reason and keeps the server's own message, so the WARNING
says what to fix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.util.retry import Retry


def api_client(kubeconfig: Path | None, context: str | None) -> client.ApiClient:
    """A new client; built anew after a 401 it re-reads the (rotated) ServiceAccount token."""
    configuration = client.Configuration()
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(
            str(kubeconfig) if kubeconfig is not None else None,
            context=context,
            client_configuration=configuration,
        )
    configuration.retries = Retry(total=3, respect_retry_after_header=False)
    return client.ApiClient(configuration)


REASONS = {401: "unauthorized", 403: "forbidden", 404: "not_found", 410: "gone", 429: "throttled"}


def classify(exc: ApiException) -> tuple[str, str, float | None]:
    """(reason, the server's message, seconds the server asked us to wait or None)."""
    status = int(exc.status or 0)
    reason = REASONS.get(status) or ("server_error" if status >= 500 else f"http_{status}")
    detail = str(exc.reason or "")
    try:
        body = json.loads(exc.body or "{}")
        if isinstance(body, dict) and body.get("message"):
            detail = str(body["message"])
    except (ValueError, TypeError):
        pass
    retry_after = None
    headers = exc.headers or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    if value is not None:
        try:
            retry_after = float(value)
        except ValueError:
            retry_after = None
    return reason, f"HTTP {status} {detail}".strip(), retry_after
