"""Kafka for the registry: the sink (``kafka:``) and the index flow's input (``kafka_input:``)."""

from __future__ import annotations

from logwax.connectors.descriptor import InputConnector, SinkConnector
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.health import probe_sink, probe_source
from logwax.connectors.kafka.operators import output
from logwax.connectors.kafka.source import KafkaSource
from logwax.connectors.kafka.source_config import KafkaSourceConfig

SINK = SinkConnector(key="kafka", config=KafkaSinkConfig, attach=output, probe=probe_sink)
INPUT = InputConnector(
    key="kafka_input", config=KafkaSourceConfig, build=KafkaSource, probe=probe_source
)
