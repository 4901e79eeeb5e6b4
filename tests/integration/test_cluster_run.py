"""The collect flow run by bytewax's own runner as a cluster of two processes, both SIGKILLed
mid-run and restarted: still exactly once in Kafka and Elasticsearch."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bytewax.recovery import init_db_dir
from elasticsearch import Elasticsearch

from devtools.home import free_port
from tests.integration.brokers import Brokers
from tests.integration.flow_runs import es_count, es_event_ids, kafka_event_ids, wait_for
from tests.integration.test_exactly_once_collect import exactly_once_pipeline, write_files


def start_cluster(config: Path, tmp_path: Path, addresses: str) -> list[subprocess.Popen[bytes]]:
    log = open(tmp_path / "cluster.log", "ab")  # noqa: SIM115 - owned by the children
    env = {**os.environ, "LOGWAX_CONFIG": str(config)}
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bytewax.run",
                "logwax.flows.collect:from_env()",
                "-i",
                str(i),
                "-a",
                addresses,
                "-r",
                str(tmp_path / "recovery"),
                "-s",
                "1",
                "-b",
                "0",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=env,
        )
        for i in range(2)
    ]


def test_two_process_cluster_killed_and_restarted_is_exactly_once(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    es: Elasticsearch,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> None:
    expected = write_files(tmp_path / "logs")
    topic, prefix = new_topic(partitions=4), new_index_prefix()
    config = exactly_once_pipeline(tmp_path, servers, topic, prefix)
    (tmp_path / "recovery").mkdir()
    init_db_dir(tmp_path / "recovery", 2)
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    log = tmp_path / "cluster.log"

    first = start_cluster(config, tmp_path, addresses)
    wait_for(
        "a third of the lines",
        lambda: es_count(es, prefix) >= len(expected) // 3,
        first[0],
        log,
        timeout=120,
        poll=0.1,
    )
    for proc in first:
        proc.kill()
        proc.wait()
    assert es_count(es, prefix) < len(expected)

    second = start_cluster(config, tmp_path, addresses)
    try:
        wait_for(
            "every line", lambda: es_count(es, prefix) >= len(expected), second[0], log, timeout=300
        )
        wait_for(
            "every line in kafka",
            lambda: sum(kafka_event_ids(kafka_config, topic).values()) >= len(expected),
            second[0],
            log,
            timeout=120,
            poll=2,
        )
    finally:
        for proc in second:
            proc.kill()
            proc.wait()
    in_kafka, in_es = kafka_event_ids(kafka_config, topic), es_event_ids(es, prefix)
    assert len(in_kafka) == len(expected) and max(in_kafka.values()) == 1
    assert len(in_es) == len(expected) and max(in_es.values()) == 1
