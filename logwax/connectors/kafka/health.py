"""``logwax check`` for Kafka: do the topics we read or write exist, with how many partitions."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, KafkaException

from logwax.connectors.kafka import clients, diagnosis
from logwax.connectors.kafka.config import KafkaSecurity, KafkaSinkConfig
from logwax.connectors.kafka.source_config import KafkaSourceConfig
from logwax.core.errors import LogwaxError


def topics_exist(bootstrap_servers: str, security: KafkaSecurity, topics: list[str]) -> str:
    """Metadata of ``topics`` as this job's principal sees it; a refusal says what to fix."""
    consumer = Consumer(clients.reader(bootstrap_servers, security, "check"))
    described: dict[str, Any] = {}  # confluent-kafka's TopicMetadata, not exported typed
    try:
        for topic in topics:  # one by one: a listing of all topics leaves out unauthorized ones
            described[topic] = consumer.list_topics(topic, timeout=10).topics[topic]
    except KafkaException as exc:
        # The exception says "transport failure"; the client's error callback heard why.
        consumer.poll(0.5)
        said = diagnosis.last_reason(bootstrap_servers)
        raise LogwaxError(said or f"kafka={bootstrap_servers} reason={exc}") from None
    finally:
        consumer.close()
    for topic, metadata in described.items():
        if metadata.error is not None:
            who = f", principal User:{security.sasl_username}" if security.sasl_username else ""
            reason = f"{metadata.error.name()} (topic {topic}{who})"
            if diagnosis.setting_for(reason):
                raise LogwaxError(diagnosis.explain(bootstrap_servers, reason))
    missing = [t for t, m in described.items() if m.error is not None]
    if missing:
        raise RuntimeError(f"topics missing at {bootstrap_servers}: {', '.join(missing)}")
    counts = ", ".join(f"{t} ({len(m.partitions)} partitions)" for t, m in described.items())
    return f"{bootstrap_servers}: {counts}"


def probe_sink(config: KafkaSinkConfig) -> str:
    return topics_exist(config.bootstrap_servers, config.security, [config.topic])


def probe_source(config: KafkaSourceConfig) -> str:
    return topics_exist(config.bootstrap_servers, config.security, config.topics)
