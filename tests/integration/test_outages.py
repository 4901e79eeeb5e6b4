"""Broker outages mid-run: Kafka, then Elasticsearch, frozen for 30 s (the process stops
answering, as a hung or partitioned broker does). Nothing is lost or duplicated, and the flow
carries on by itself: it never exits."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from tests.integration.brokers import Brokers
from tests.integration.flow_runs import (
    es_count,
    es_event_ids,
    kafka_event_ids,
    start,
    stop_gracefully,
    wait_for,
)
from tests.integration.test_exactly_once_collect import exactly_once_pipeline

OUTAGE_S = 30
LINES = 60_000


def write_lines(directory: Path) -> int:
    directory.mkdir()
    with open(directory / "app.log", "w") as out:
        for i in range(LINES):
            out.write(f"seq={i} {'z' * 150}\n")
    return LINES


@pytest.mark.parametrize("broker", ["kafka", "elasticsearch"])
def test_a_30s_outage_loses_nothing_and_the_flow_resumes_by_itself(
    broker: str,
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    es: Elasticsearch,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> None:
    total = write_lines(tmp_path / "logs")
    topic, prefix = new_topic(partitions=2), new_index_prefix()
    config = exactly_once_pipeline(tmp_path, servers, topic, prefix)
    log = tmp_path / "logwax.log"
    proc = start(config, tmp_path)
    wait_for("some lines", lambda: es_count(es, prefix) >= 5_000, proc, log, poll=0.05)

    servers.freeze(broker)
    try:
        time.sleep(OUTAGE_S)
        assert proc.poll() is None, "the flow gave up during the outage"
    finally:
        servers.thaw(broker)
    wait_for("every line", lambda: es_count(es, prefix) >= total, proc, log, timeout=300)
    wait_for(
        "every line in kafka",
        lambda: sum(kafka_event_ids(kafka_config, topic).values()) >= total,
        proc,
        log,
        timeout=180,
        poll=2,
    )
    stop_gracefully(proc)

    in_kafka, in_es = kafka_event_ids(kafka_config, topic), es_event_ids(es, prefix)
    assert len(in_kafka) == total and max(in_kafka.values()) == 1
    assert len(in_es) == total and max(in_es.values()) == 1
