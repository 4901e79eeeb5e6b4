"""Kafka: a sink whose every delivery is checked before the input checkpoint may move."""

from connectors.kafka.config import KafkaSecurity, KafkaSinkConfig
from connectors.kafka.sink import KafkaSink

__all__ = ["KafkaSecurity", "KafkaSink", "KafkaSinkConfig"]
