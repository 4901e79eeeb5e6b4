"""Kafka: the at-least-once sink with checked deliveries (transactions come with exactly-once mode)."""

from connectors.kafka.config import KafkaSecurity, KafkaSinkConfig
from connectors.kafka.sink import KafkaSink

__all__ = ["KafkaSecurity", "KafkaSink", "KafkaSinkConfig"]
