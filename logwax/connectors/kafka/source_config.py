"""Settings of the Kafka source the index flow reads from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from logwax.connectors.kafka.config import KafkaSecurity


class KafkaSourceConfig(BaseModel):
    """Topics to read with ``read_committed``; positions live in bytewax snapshots, not groups."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = Field(min_length=1)
    topics: list[str] = Field(min_length=1)
    shards: int = Field(1, ge=1, description="source partitions; Kafka partitions hash onto them")
    start_from: str = Field("earliest", pattern=r"^(earliest|latest)$")
    batch_size: int = Field(1000, ge=1)
    partition_scan_interval: int = Field(
        30, ge=1, description="seconds between looks for new Kafka partitions"
    )
    security: KafkaSecurity = KafkaSecurity()
    consumer_options: dict[str, str | int | float | bool] = Field(default_factory=dict)
