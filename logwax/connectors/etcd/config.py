"""Where the collection targets live in etcd, and what a targets document may hold."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from logwax.connectors.files.config import FilesSourceConfig
from logwax.core.units import Duration


class EtcdTargetsConfig(BaseModel):
    """etcd v3 endpoints (its JSON gateway, ``http(s)://host:2379``) and the per-host key.

    ``{node}`` in the key is replaced by ``$NODE_NAME`` (set from the pod's node in the
    DaemonSet) or, outside Kubernetes, the host name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoints: list[str] = Field(min_length=1)
    key: str = Field("/logwax/targets/{node}", min_length=1)
    poll_interval: Duration = timedelta(seconds=1)
    backoff_max: Duration = timedelta(seconds=30)
    username: str | None = None
    password: SecretStr | None = None

    def resolved_key(self) -> str:
        node = os.environ.get("NODE_NAME") or socket.gethostname()
        return self.key.replace("{node}", node)


class Target(FilesSourceConfig):
    """One collection target: a files source plus where its records go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = "files"  # type: ignore[assignment]
    topic: str | None = Field(None, description="Kafka topic for this target's records")

    @model_validator(mode="after")
    def _files_only(self) -> Target:
        if self.type != "files":
            raise ValueError("etcd targets are files sources")
        return self


class TargetsDocument(BaseModel):
    """The value under the per-host key: ``{"targets": [...]}`` in JSON or YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: list[Target] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> TargetsDocument:
        names = [t.name for t in self.targets]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"target names must be unique; repeated: {', '.join(repeated)}")
        return self
