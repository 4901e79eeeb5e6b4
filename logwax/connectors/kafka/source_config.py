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

    def consumer_config(self) -> dict[str, object]:
        return {
            # librdkafka may prefetch up to 64 MB by default; the flow drains in batches of a
            # few MB, so a 16 MB bound still keeps the fetcher ahead (no change in the index
            # flow's rate was measured) while capping what a stalled sink leaves buffered.
            "queued.max.messages.kbytes": 16384,
            **self.consumer_options,
            "bootstrap.servers": self.bootstrap_servers,
            "group.id": "logwax-index",  # required by librdkafka; offsets are never committed
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": False,
            **self.security.client_options(),
        }
