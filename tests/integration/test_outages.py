"""Broker outages mid-run: Kafka, then Elasticsearch, frozen for 30 s (the process stops
answering, as a hung or partitioned broker does). Nothing is lost or duplicated, and the flow
carries on by itself: it never exits."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.brokers import Brokers
from tests.integration.flow_runs import start, stop_gracefully, wait_for
from tests.integration.pipelines import write_numbered_lines
from tests.integration.sinks import TestSinks
from tests.integration.test_exactly_once_collect import exactly_once_pipeline

OUTAGE_S = 30
LINES = 60_000


def write_lines(directory: Path) -> int:
    return len(write_numbered_lines(directory, 1, LINES))


@pytest.mark.parametrize("broker", ["kafka", "elasticsearch"])
def test_a_30s_outage_loses_nothing_and_the_flow_resumes_by_itself(
    broker: str, tmp_path: Path, servers: Brokers, new_sinks: Callable[..., TestSinks]
) -> None:
    total = write_lines(tmp_path / "logs")
    sinks = new_sinks(partitions=2)
    config = exactly_once_pipeline(tmp_path, sinks)
    log = tmp_path / "logwax.log"
    proc = start(config, tmp_path)
    wait_for("some lines", lambda: sinks.es_count() >= 5_000, proc, log, poll=0.05)

    servers.freeze(broker)
    try:
        time.sleep(OUTAGE_S)
        assert proc.poll() is None, "the flow gave up during the outage"
    finally:
        servers.thaw(broker)
    sinks.wait_delivered(proc, log, total)
    stop_gracefully(proc)
    sinks.assert_exactly_once(total)
