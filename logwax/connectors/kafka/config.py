"""Kafka sink settings, validated without I/O, and their translation into librdkafka's dict.

Names follow what users of Vector's and Filebeat's Kafka outputs already know. Secrets are
``SecretStr`` so they never show in logs, reprs or ``logwax validate`` output.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from logwax.core import secrets
from logwax.core.units import Duration

# Options the sink sets itself to keep its delivery guarantee; passthrough may not override them.
MANAGED_OPTIONS = frozenset(
    {
        "bootstrap.servers",
        "acks",
        "enable.idempotence",
        "transactional.id",
        "security.protocol",
        "sasl.mechanism",
        "sasl.username",
        "sasl.password",
        "ssl.key.password",
    }
)


class KafkaSecurity(BaseModel):
    """TLS and SASL settings; PLAINTEXT is only sensible on loopback or a private network.

    Each secret comes inline (``LOGWAX_KAFKA__SECURITY__SASL_PASSWORD``) or from a file
    (``sasl_password_file``, a mounted Kubernetes Secret), read whenever a client is built.
    ``ssl_certificate_location`` and ``ssl_key_location`` give mutual TLS.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None
    ssl_ca_location: Path | None = None
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None
    ssl_key_password: SecretStr | None = None
    ssl_key_password_file: Path | None = None

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> KafkaSecurity:
        secrets.one_of("sasl_password", self.sasl_password, self.sasl_password_file)
        secrets.one_of("ssl_key_password", self.ssl_key_password, self.ssl_key_password_file)
        has_password = self.sasl_password is not None or self.sasl_password_file is not None
        if self.protocol.startswith("SASL") and not (
            self.sasl_mechanism and self.sasl_username and has_password
        ):
            raise ValueError(
                f"protocol {self.protocol} needs sasl_mechanism, sasl_username and "
                "sasl_password (or sasl_password_file)"
            )
        if bool(self.ssl_certificate_location) != bool(self.ssl_key_location):
            raise ValueError("ssl_certificate_location and ssl_key_location go together")
        return self

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"security.protocol": self.protocol}
        if self.sasl_mechanism:
            options["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            options["sasl.username"] = self.sasl_username
        password = secrets.reveal("sasl_password", self.sasl_password, self.sasl_password_file)
        if password is not None:
            options["sasl.password"] = password
        for key, value in (
            ("ssl.ca.location", self.ssl_ca_location),
            ("ssl.certificate.location", self.ssl_certificate_location),
            ("ssl.key.location", self.ssl_key_location),
        ):
            if value is not None:
                options[key] = str(value)
        key_password = secrets.reveal(
            "ssl_key_password", self.ssl_key_password, self.ssl_key_password_file
        )
        if key_password is not None:
            options["ssl.key.password"] = key_password
        return options


class TopicCreation(BaseModel):
    """How the exactly-once sink creates its topic when it is missing (off unless given).

    Off by default: the partition count fixes the sink's parallelism for the topic's whole life,
    so creating it silently with a guess would be worse than the clear error.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    partitions: int = Field(ge=1, description="partitions of the new topic")
    replication_factor: int = Field(ge=1, description="replicas of each partition")


class KafkaSinkConfig(BaseModel):
    """Where and how records are produced."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = Field(min_length=1, description="host:port[,host:port...]")
    topic: str = Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")
    topic_from_metadata: str | None = Field(
        "kafka_topic",
        description="a record's @metadata hint naming its own topic (etcd targets set it); "
        "the exactly-once sink writes its one topic only",
    )
    key: Literal["stream", "event_id", "none"] = Field(
        "stream", description="record key; 'stream' keeps order per file/journal/namespace"
    )
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    linger: Duration = timedelta(milliseconds=20)
    delivery_timeout: Duration = Field(
        timedelta(minutes=2), description="after this a record counts as undeliverable"
    )
    exactly_once: bool = Field(
        False,
        description="Kafka transactions committed every half batch.max_latency and at each "
        "snapshot; exactly once for read_committed readers",
    )
    create_topic: TopicCreation | None = Field(
        None,
        description="exactly-once: create a missing topic with these partitions and replicas; "
        "unset, a missing topic is an error",
    )
    transaction_timeout: Duration = Field(
        timedelta(minutes=2), description="must exceed the snapshot interval"
    )
    oversize: Literal["truncate", "dead_letter"] = Field(
        "truncate",
        description="a record over the size limit: cut its message (tag 'truncated') so it fits,"
        " or send it to dead_letter_topic",
    )
    dead_letter_topic: str | None = Field(
        None,
        max_length=249,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="records the broker refuses on their own account, or too large to send,"
        " go here with the reason; without it such a record stops the flow",
    )
    security: KafkaSecurity = KafkaSecurity()
    producer_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="librdkafka options passed through as they are"
    )

    @field_validator("producer_options")
    @classmethod
    def _no_managed_options(
        cls, value: dict[str, str | int | float | bool]
    ) -> dict[str, str | int | float | bool]:
        clash = sorted(MANAGED_OPTIONS & value.keys())
        if clash:
            raise ValueError(f"{', '.join(clash)} are set by logwax; use the typed settings")
        return value

    @model_validator(mode="after")
    def _dead_letters_elsewhere(self) -> KafkaSinkConfig:
        if self.dead_letter_topic is not None and self.dead_letter_topic == self.topic:
            raise ValueError("dead_letter_topic must differ from topic")
        if self.oversize == "dead_letter" and self.dead_letter_topic is None:
            raise ValueError("oversize: dead_letter needs a dead_letter_topic")
        return self
