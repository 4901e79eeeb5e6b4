"""Settings of the Kafka source the index flow reads from."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from logwax.connectors.kafka.config import KafkaSecurity
from logwax.core.units import Duration


class KafkaSourceConfig(BaseModel):
    """Topics to read with ``read_committed``.

    Two modes. Without ``consumer_group``, positions live in bytewax snapshots (``shards``
    source partitions, recovery on). With it, every process is one member of that Kafka consumer
    group: Kafka assigns the partitions (and moves them when members come and go) and keeps the
    offsets, committed only once the sink confirmed the records (see ``kafka.group``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = Field(min_length=1)
    topics: list[str] = Field(min_length=1)
    shards: int = Field(1, ge=1, description="source partitions; Kafka partitions hash onto them")
    start_from: str = Field("earliest", pattern=r"^(earliest|latest)$")
    batch_size: int = Field(1000, ge=1)
    partition_scan_interval: int = Field(
        30, ge=1, description="seconds between looks for new Kafka partitions"
    )
    consumer_group: str | None = Field(
        None,
        min_length=1,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="join this consumer group: Kafka assigns partitions, offsets kept there",
    )
    commit_interval: Duration = Field(
        timedelta(seconds=1), description="consumer-group mode: how often delivered offsets commit"
    )
    security: KafkaSecurity = KafkaSecurity()
    consumer_options: dict[str, str | int | float | bool] = Field(default_factory=dict)
