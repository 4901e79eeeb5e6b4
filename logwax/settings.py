"""The pipeline file: one YAML document validated by pydantic, overridable from the environment.

Unknown keys are errors (a typo must not silently fall back to a default). Environment variables
override the file, prefixed ``LOGWAX_`` with ``__`` between levels, e.g.
``LOGWAX_KAFKA__BOOTSTRAP_SERVERS=broker:9092`` or ``LOGWAX_ELASTICSEARCH__API_KEY=...`` so that
secrets can come from a Kubernetes Secret instead of the committed file.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, Union

import yaml
from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.connectors.etcd.config import EtcdTargetsConfig
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.source_config import KafkaSourceConfig
from logwax.connectors.registry import SINKS, SOURCES
from logwax.core.errors import ConfigError
from logwax.core.units import Duration
from logwax.steps.transforms import TransformRule

ENV_PREFIX = "LOGWAX_"


class SourceSettings(Protocol):
    """What the flows read of any source's settings (each connector's model has more)."""

    type: str
    name: str


if TYPE_CHECKING:
    SourceConfig = SourceSettings
else:
    # One entry of ``sources:``: the registry's settings models, told apart by ``type``.
    SourceConfig = Annotated[
        Union[tuple(c.config for c in SOURCES.values())],  # noqa: UP007 (a runtime tuple)
        Field(discriminator="type"),
    ]


class RecoverySettings(BaseModel):
    """bytewax recovery: where snapshots go and how often they are taken.

    ``partitions`` is fixed when the directory is first made; choose the most worker processes
    this flow will ever run with.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    directory: Path = Path("recovery")
    snapshot_interval: Duration = timedelta(seconds=10)
    backup_interval: Duration = timedelta(0)
    partitions: int = Field(1, ge=1)


class DedupSettings(BaseModel):
    """Remember recent event ids per stream to drop duplicates the sources produce."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    ttl: Duration = timedelta(minutes=10)
    max_ids_per_stream: int = Field(100_000, ge=1)


class BatchSettings(BaseModel):
    """A sink batch closes at whichever bound comes first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_records: int = Field(1000, ge=1)
    max_bytes: ByteSize = Field(ByteSize(5 * 1024 * 1024), ge=1024)
    max_latency: Duration = timedelta(seconds=1)


class HealthSettings(BaseModel):
    """When ``/readyz`` calls a source or a dependency failing (see the README's fault table)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_failure_grace: Duration = Field(
        timedelta(seconds=60), description="a source failing this long makes /readyz 503"
    )
    hung_request: Duration = Field(
        timedelta(seconds=10), description="a request in flight this long makes /readyz 503"
    )


class PipelineConfig(BaseSettings):
    """A logwax job: its sources, its sinks and its recovery settings."""

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, env_prefix=ENV_PREFIX, env_nested_delimiter="__"
    )

    name: str = Field("logwax", pattern=r"^[A-Za-z0-9_-]+$", description="flow id")
    flow: Literal["collect", "index", "events"] = "collect"
    sources: list[SourceConfig] = Field(default_factory=list)
    kafka_input: KafkaSourceConfig | None = Field(None, description="what the index flow reads")
    etcd_targets: EtcdTargetsConfig | None = Field(
        None, description="collect flow: files targets kept per host in etcd, followed live"
    )
    transforms: list[TransformRule] = Field(default_factory=list)
    dedup: DedupSettings = DedupSettings()
    batch: BatchSettings = BatchSettings()
    kafka: KafkaSinkConfig | None = None
    elasticsearch: ElasticsearchSinkConfig | None = None
    recovery: RecoverySettings = RecoverySettings()
    health: HealthSettings = HealthSettings()

    @model_validator(mode="after")
    def _sinks_and_names(self) -> PipelineConfig:
        if all(getattr(self, key) is None for key in SINKS):
            raise ValueError(f"configure at least one sink: {' or '.join(SINKS)}")
        if self.flow == "index":
            if self.kafka_input is None or self.elasticsearch is None:
                raise ValueError("the index flow reads kafka_input and writes to elasticsearch")
            if self.sources:
                raise ValueError("the index flow reads kafka_input, not sources")
            if self.kafka_input.consumer_group is not None and self.kafka is not None:
                # Offsets commit when the sink confirms; one sink's word is not another's.
                raise ValueError(
                    "kafka_input.consumer_group: the consumer-group mode writes to "
                    "elasticsearch only; remove the kafka sink or the consumer_group"
                )
        elif not self.sources and self.etcd_targets is None:
            raise ValueError(f"the {self.flow} flow needs at least one source")
        if self.etcd_targets is not None and self.flow != "collect":
            raise ValueError("etcd_targets belong to the collect flow")
        if self.etcd_targets is not None and self.kafka is not None and self.kafka.exactly_once:
            raise ValueError(
                "etcd targets route records to their own topics: "
                "use kafka.exactly_once: false with etcd_targets"
            )
        for source in self.sources:
            if self.flow not in SOURCES[source.type].flows:
                usable = sorted(t for t, c in SOURCES.items() if self.flow in c.flows)
                raise ValueError(
                    f"the {self.flow} flow reads {', '.join(usable)} sources only, "
                    f"not {source.type} ({source.name})"
                )
        if (
            self.kafka is not None
            and self.kafka.exactly_once
            and self.kafka.transaction_timeout <= self.recovery.snapshot_interval
        ):
            raise ValueError("kafka.transaction_timeout must exceed recovery.snapshot_interval")
        names = [source.name for source in self.sources]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicated)}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first: it overrides the file's values, which arrive as init kwargs.
        return (env_settings, init_settings)


def _key_path(loc: tuple[int | str, ...], error_type: str) -> str:
    """``sources.0.files.include`` → ``sources.0.include``: the union tag is not a key."""
    parts: list[str] = []
    for index, part in enumerate(loc):
        follows_index = index > 0 and isinstance(loc[index - 1], int)
        if follows_index and loc[:1] == ("sources",) and part in SOURCES:
            continue
        parts.append(str(part))
    if error_type in ("union_tag_invalid", "union_tag_not_found"):
        parts.append("type")
    return ".".join(parts) or "(top level)"


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors(include_url=False):
        reason = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        problems.append((_key_path(item["loc"], item["type"]), reason))
    return problems


def parse_config(document: Any, source: str) -> PipelineConfig:
    """Validate an already-parsed document; raises ConfigError listing every problem."""
    if not isinstance(document, dict):
        raise ConfigError(source, [("(top level)", "expected a mapping of settings")])
    try:
        return PipelineConfig(**document)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc)) from None


def load_config(path: Path) -> PipelineConfig:
    """Read and validate a pipeline file; raises ConfigError naming the file and each key."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [("(file)", exc.strerror or str(exc))]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(str(path), [(where, f"not valid YAML: {exc}")]) from None
    return parse_config(document, str(path))
