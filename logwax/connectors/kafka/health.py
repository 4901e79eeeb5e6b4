"""``logwax check`` for Kafka: do the topics we read or write exist, with how many partitions."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException

from logwax.connectors.kafka import clients, diagnosis
from logwax.connectors.kafka.config import KafkaSecurity, KafkaSinkConfig
from logwax.connectors.kafka.source_config import KafkaSourceConfig
from logwax.core.errors import LogwaxError


def topics_exist(bootstrap_servers: str, security: KafkaSecurity, topics: list[str]) -> str:
    """Metadata of ``topics`` as this job's principal sees it; a refusal says what to fix."""
    described: dict[str, Any] = {}  # confluent-kafka's TopicMetadata, not exported typed
    for topic in topics:
        try:
            client = clients.reader(bootstrap_servers, security, "check")
            described[topic] = diagnosis.topic_metadata(client, topic)
        except KafkaException as exc:
            # A bare "transport failure" here; the client's error callback heard why.
            error = exc.args[0] if exc.args else None
            name = error.name() if isinstance(error, KafkaError) else str(exc)
            if diagnosis.setting_for(name):
                who = f", principal User:{security.sasl_username}" if security.sasl_username else ""
                raise LogwaxError(
                    diagnosis.explain(bootstrap_servers, f"{name} (topic {topic}{who})")
                ) from None
            said = diagnosis.last_reason(bootstrap_servers)
            raise LogwaxError(said or f"kafka={bootstrap_servers} reason={exc}") from None
    missing = [t for t, m in described.items() if m.error is not None]
    if missing:
        raise RuntimeError(f"topics missing at {bootstrap_servers}: {', '.join(missing)}")
    counts = ", ".join(f"{t} ({len(m.partitions)} partitions)" for t, m in described.items())
    return f"{bootstrap_servers}: {counts}"


def probe_sink(config: KafkaSinkConfig) -> str:
    return topics_exist(config.bootstrap_servers, config.security, [config.topic])


def probe_source(config: KafkaSourceConfig) -> str:
    return topics_exist(config.bootstrap_servers, config.security, config.topics)
