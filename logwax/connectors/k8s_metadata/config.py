"""Settings of the Kubernetes metadata added to container log lines (a files source's block).

Named after Filebeat's ``add_kubernetes_metadata`` and Vector's ``kubernetes_logs`` options where
users already know them.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from logwax.core.errors import ConfigError
from logwax.core.units import Duration

NODE_NAME_ENV = "NODE_NAME"


class KubernetesMetadataConfig(BaseModel):
    """Where the API is, which node's pods to cache, and what of them to put on each line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kubeconfig: Path | None = Field(
        None, description="kubeconfig file; unset means in-cluster config, else ~/.kube/config"
    )
    context: str | None = None
    node_name: str | None = Field(
        None,
        description=f"node whose pods are cached; unset means ${NODE_NAME_ENV} (downward API)",
    )
    annotations: tuple[str, ...] = Field(
        (),
        description="pod annotations to copy (names or glob patterns); none by default because "
        "annotations carry secrets in practice",
    )
    namespace_labels: bool = Field(True, description="add the labels of the pod's namespace")
    owners: bool = Field(
        True, description="resolve ReplicaSet→Deployment and Job→CronJob (reads those objects)"
    )
    dedot: bool = Field(
        True, description="write '.' in label and annotation keys as '_' (as Beats do)"
    )
    metadata_wait: Duration = Field(
        timedelta(seconds=2),
        description="hold a file of a pod not yet cached this long, then ship without metadata",
    )
    deleted_pod_grace: Duration = Field(
        timedelta(minutes=5), description="keep a deleted pod this long for its late lines"
    )
    owner_ttl: Duration = Field(
        timedelta(minutes=10), description="how long a resolved owner is trusted"
    )
    watch_timeout: Duration = Field(
        timedelta(minutes=5), description="server-side watch timeout before resuming"
    )
    reconnect_backoff_max: Duration = timedelta(seconds=30)

    def node(self) -> str:
        """The node name, from the settings or the environment; read when the cache starts."""
        name = self.node_name or os.environ.get(NODE_NAME_ENV, "")
        if not name:
            raise ConfigError(
                "kubernetes_metadata",
                [
                    (
                        "node_name",
                        f"set node_name or ${NODE_NAME_ENV} (in a DaemonSet: env from the "
                        "downward API, fieldRef spec.nodeName)",
                    )
                ],
            )
        return name
