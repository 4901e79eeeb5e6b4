"""The disk holding the recovery snapshots fills up while logwax runs: the job stops with a clear
error, and once there is room again it resumes from its last good snapshot; nothing is lost and,
with exactly-once Kafka, nothing is duplicated."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from elasticsearch import Elasticsearch

from tests.integration.brokers import Brokers
from tests.integration.flow_runs import (
    es_count,
    es_event_ids,
    has_resume_point,
    kafka_event_ids,
    start,
    stop_gracefully,
    wait_for,
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs: a disk that can really fill up (needs root and mount rights)."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> None:
    """Fill the disk to the last block."""
    with open(disk / "filler", "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass


def test_snapshot_disk_full_stops_the_job_clearly_and_resumes_without_loss(
    tmp_path: Path,
    small_disk: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    es: Elasticsearch,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> None:
    logs, recovery, log = tmp_path / "logs", small_disk / "recovery", tmp_path / "logwax.log"
    logs.mkdir()
    lines = 60_000
    with open(logs / "app.log", "w") as out:
        out.writelines(f"line={i} {'z' * 80}\n" for i in range(lines))
    topic, prefix = new_topic(partitions=2), new_index_prefix()
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "disk_full",
                "sources": [{"type": "files", "name": "app", "include": [f"{logs}/*.log"]}],
                "kafka": {
                    "bootstrap_servers": servers.kafka_bootstrap,
                    "topic": topic,
                    "exactly_once": True,
                },
                "elasticsearch": {"hosts": [servers.elasticsearch_url], "index": f"{prefix}-%Y"},
                "batch": {"max_records": 1000, "max_latency": "200ms"},
                "recovery": {"directory": str(recovery), "snapshot_interval": "300ms"},
            }
        )
    )
    proc = start(config, tmp_path)
    wait_for(
        "a snapshot and some lines",
        lambda: has_resume_point(recovery) and es_count(es, prefix) >= 5_000,
        proc,
        log,
        poll=0.05,
    )
    fill(small_disk)
    code = proc.wait(timeout=60)
    output = log.read_text()
    print(f"exit code {code}; last lines:\n{output[-1500:]}")
    assert code != 0
    assert "is full: the job stopped. Free space there and start it again" in output
    assert es_count(es, prefix) < lines

    (small_disk / "filler").unlink()
    proc = start(config, tmp_path)
    wait_for("every line", lambda: es_count(es, prefix) >= lines, proc, log, timeout=180)
    wait_for(
        "every line in Kafka",
        lambda: sum(kafka_event_ids(kafka_config, topic).values()) >= lines,
        proc,
        log,
        timeout=120,
        poll=2,
    )
    stop_gracefully(proc)
    ids_kafka, ids_es = kafka_event_ids(kafka_config, topic), es_event_ids(es, prefix)
    assert len(ids_kafka) == lines and max(ids_kafka.values()) == 1
    assert len(ids_es) == lines and max(ids_es.values()) == 1
