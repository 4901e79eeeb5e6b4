"""Kafka: a sink whose every delivery is checked before the input checkpoint may move."""

from logwax.connectors.kafka.config import KafkaSecurity, KafkaSinkConfig
from logwax.connectors.kafka.sink import KafkaSink

__all__ = ["KafkaSecurity", "KafkaSink", "KafkaSinkConfig"]
