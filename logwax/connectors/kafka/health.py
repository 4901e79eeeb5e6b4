"""``logwax check`` for Kafka: do the topics we read or write exist, with how many partitions."""

from __future__ import annotations

from confluent_kafka import Consumer

from logwax.connectors.kafka import clients
from logwax.connectors.kafka.config import KafkaSecurity, KafkaSinkConfig
from logwax.connectors.kafka.source_config import KafkaSourceConfig


def topics_exist(bootstrap_servers: str, security: KafkaSecurity, topics: list[str]) -> str:
    consumer = Consumer(clients.reader(bootstrap_servers, security, "check"))
    try:
        metadata = consumer.list_topics(timeout=10)
    finally:
        consumer.close()
    missing = [t for t in topics if t not in metadata.topics or metadata.topics[t].error]
    if missing:
        raise RuntimeError(f"topics missing at {bootstrap_servers}: {', '.join(missing)}")
    counts = ", ".join(f"{t} ({len(metadata.topics[t].partitions)} partitions)" for t in topics)
    return f"{bootstrap_servers}: {counts}"


def probe_sink(config: KafkaSinkConfig) -> str:
    return topics_exist(config.bootstrap_servers, config.security, [config.topic])


def probe_source(config: KafkaSourceConfig) -> str:
    return topics_exist(config.bootstrap_servers, config.security, config.topics)
