"""Settings of a Kubernetes Events source, named like kubernetes-event-exporter's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from logwax.core.units import Duration


class KubernetesEventsSourceConfig(BaseModel):
    """Which cluster to watch, and which of its Events to keep."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["kubernetes_events"]
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kubeconfig: Path | None = Field(
        None, description="kubeconfig file; unset means in-cluster config, else ~/.kube/config"
    )
    context: str | None = None
    namespaces: list[str] = Field(default_factory=list, description="empty means all namespaces")
    max_event_age: Duration = Field(
        timedelta(hours=1), description="on a first start, skip events last seen before this"
    )
    watch_timeout: Duration = Field(
        timedelta(minutes=5), description="server-side watch timeout before reconnecting"
    )
    reconnect_backoff_max: Duration = Field(
        timedelta(seconds=8),
        description="longest wait between retries: delivery resumes this soon after a fault",
    )
    batch_events: int = Field(500, ge=1)
    rate_limit: float | None = Field(
        None, gt=0, description="most records per second this source hands on (None: no limit)"
    )
    poll_interval: Duration = timedelta(milliseconds=200)
