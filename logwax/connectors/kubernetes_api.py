"""The Kubernetes API client both Kubernetes connectors use (Events, and the metadata cache).

One place decides how logwax reaches the API server: the kubeconfig file when one is given,
in-cluster (the pod's ServiceAccount) inside a pod, else the user's default kubeconfig.

urllib3 would wait out a 429's (or 503's) ``Retry-After`` by itself, unseen: no metric, no
WARNING, no ``/readyz``. Its retries are kept for dropped connections only, so a throttled
answer reaches the caller's retry path, which waits as long as the server asks and counts it.
"""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes import client, config
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
