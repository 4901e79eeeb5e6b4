"""A test's own Kafka topic and Elasticsearch index prefix, and what it asks of them.

Most flow tests write records, run logwax, wait until both sinks hold them and then count
exactly-once: one object carries the topic, the prefix and those questions.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from tests.integration.brokers import Brokers
from tests.integration.flow_runs import es_count, es_event_ids, kafka_event_ids, wait_delivered
from tests.integration.pipelines import es_sink, kafka_sink


@dataclass(frozen=True)
class TestSinks:
    __test__ = False  # not a test class, whatever its name

    servers: Brokers
    kafka_config: dict[str, Any]
    es: Elasticsearch
    topic: str
    prefix: str

    def parts(self) -> tuple[str, str, Brokers, dict[str, Any], Elasticsearch]:
        """topic, prefix, servers, kafka_config, es: for tests that use them one by one."""
        return self.topic, self.prefix, self.servers, self.kafka_config, self.es

    def kafka(self, **settings: Any) -> dict[str, Any]:
        """The ``kafka:`` section writing to this test's topic."""
        return kafka_sink(self.servers, self.topic, **settings)

    def elasticsearch(self, pattern: str = "%Y", **settings: Any) -> dict[str, Any]:
        """The ``elasticsearch:`` section writing under this test's prefix."""
        return es_sink(self.servers, self.prefix, pattern, **settings)

    def es_count(self) -> int:
        return es_count(self.es, self.prefix)

    def wait_delivered(
        self, proc: subprocess.Popen[bytes], log: Path, total: int, timeout: float = 300
    ) -> None:
        wait_delivered(
            proc,
            log,
            total,
            es=self.es,
            prefix=self.prefix,
            kafka_config=self.kafka_config,
            topic=self.topic,
            timeout=timeout,
        )

    def event_ids(self) -> tuple[Counter[str], Counter[str]]:
        """Event ids in Kafka (read_committed) and in Elasticsearch, with their counts."""
        return kafka_event_ids(self.kafka_config, self.topic), es_event_ids(self.es, self.prefix)

    def assert_exactly_once(self, total: int) -> None:
        in_kafka, in_es = self.event_ids()
        assert len(in_kafka) == total and max(in_kafka.values()) == 1
        assert len(in_es) == total and max(in_es.values()) == 1
