"""The collect flow run by bytewax's own runner as a cluster of two processes, both SIGKILLed
mid-run and restarted: still exactly once in Kafka and Elasticsearch."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bytewax.recovery import init_db_dir

from devtools.home import free_port
from tests.integration.flow_runs import wait_for
from tests.integration.sinks import TestSinks
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
    tmp_path: Path, new_sinks: Callable[..., TestSinks]
) -> None:
    expected = write_files(tmp_path / "logs")
    sinks = new_sinks(partitions=4)
    config = exactly_once_pipeline(tmp_path, sinks)
    (tmp_path / "recovery").mkdir()
    init_db_dir(tmp_path / "recovery", 2)
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    log = tmp_path / "cluster.log"

    first = start_cluster(config, tmp_path, addresses)
    wait_for(
        "a third of the lines",
        lambda: sinks.es_count() >= len(expected) // 3,
        first[0],
        log,
        timeout=120,
        poll=0.1,
    )
    for proc in first:
        proc.kill()
        proc.wait()
    assert sinks.es_count() < len(expected)

    second = start_cluster(config, tmp_path, addresses)
    try:
        sinks.wait_delivered(second[0], log, len(expected))
    finally:
        for proc in second:
            proc.kill()
            proc.wait()
    sinks.assert_exactly_once(len(expected))
