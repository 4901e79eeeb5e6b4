"""The collect flow as a user runs it (``logwax run`` in its own process) against real brokers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import Elasticsearch

from tests.integration.brokers import Brokers
from tests.integration.kafka_helpers import read_all


def write_logs(directory: Path, files: int, lines: int, tag: str = "") -> set[str]:
    directory.mkdir(parents=True, exist_ok=True)
    expected = set()
    for f in range(files):
        with open(directory / f"app{f}.log", "a") as out:
            for i in range(lines):
                message = f"file={f} line={i}{tag} payload={'p' * 120}"
                out.write(message + "\n")
                expected.add(message)
    return expected


def pipeline(tmp_path: Path, servers: Brokers, topic: str, index_prefix: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "collect_test",
                "sources": [
                    {
                        "type": "files",
                        "name": "app",
                        "include": [f"{tmp_path}/logs/*.log"],
                        "scan_interval": "1s",
                    }
                ],
                "kafka": {"bootstrap_servers": servers.kafka_bootstrap, "topic": topic},
                "elasticsearch": {
                    "hosts": [servers.elasticsearch_url],
                    "index": f"{index_prefix}-%Y.%m.%d",
                },
                "recovery": {"directory": str(tmp_path / "recovery"), "snapshot_interval": "1s"},
            }
        )
    )
    return path


def start(config: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    log = open(tmp_path / "logwax.log", "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        [sys.executable, "-m", "logwax", "run", "-c", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )


def es_messages(es: Elasticsearch, index_prefix: str) -> Counter[str]:
    es.indices.refresh(index=f"{index_prefix}-*", allow_no_indices=True)
    found: Counter[str] = Counter()
    for hit in _scan(es, f"{index_prefix}-*"):
        found[hit["_source"]["message"]] += 1
    return found


def _scan(es: Elasticsearch, index: str) -> list[dict[str, Any]]:
    from elasticsearch import helpers

    return list(helpers.scan(es, index=index, query={"query": {"match_all": {}}}, size=5000))


def es_count(es: Elasticsearch, index_prefix: str) -> int:
    es.indices.refresh(index=f"{index_prefix}-*", allow_no_indices=True)
    return int(es.count(index=f"{index_prefix}-*", allow_no_indices=True)["count"])


def wait_for(
    what: str,
    check: Callable[[], bool],
    proc: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 120,
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            raise AssertionError(f"logwax exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def kafka_messages(kafka_config: dict[str, Any], topic: str) -> Counter[str]:
    return Counter(json.loads(m.value())["message"] for m in read_all(kafka_config, topic))


def test_every_line_arrives_once_in_both_sinks_and_sigterm_stops_cleanly(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    es: Elasticsearch,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> None:
    expected = write_logs(tmp_path / "logs", files=3, lines=2000)
    topic, prefix = new_topic(partitions=3), new_index_prefix()
    config = pipeline(tmp_path, servers, topic, prefix)
    log = tmp_path / "logwax.log"

    proc = start(config, tmp_path)
    wait_for("all lines in Elasticsearch", lambda: es_count(es, prefix) >= len(expected), proc, log)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]

    in_kafka, in_es = kafka_messages(kafka_config, topic), es_messages(es, prefix)
    assert set(in_kafka) == expected and max(in_kafka.values()) == 1
    assert set(in_es) == expected and max(in_es.values()) == 1

    # A second run resumes from its snapshot: only the new lines are shipped.
    more = write_logs(tmp_path / "logs", files=3, lines=100, tag="-second-run")
    proc = start(config, tmp_path)
    total = len(expected) + len(more)
    wait_for("new lines in Elasticsearch", lambda: es_count(es, prefix) >= total, proc, log)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    in_kafka = kafka_messages(kafka_config, topic)
    assert set(in_kafka) == expected | more and max(in_kafka.values()) == 1
    assert es_count(es, prefix) == total


def test_sigkill_mid_stream_then_restart_loses_nothing(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    es: Elasticsearch,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> None:
    expected = write_logs(tmp_path / "logs", files=4, lines=10_000)
    topic, prefix = new_topic(partitions=2), new_index_prefix()
    config = pipeline(tmp_path, servers, topic, prefix)
    log = tmp_path / "logwax.log"

    kills = 0
    for threshold in (2_000, 15_000):
        proc = start(config, tmp_path)
        wait_for(f"{threshold} documents", lambda t=threshold: es_count(es, prefix) >= t, proc, log)
        proc.kill()
        proc.wait()
        kills += 1
    proc = start(config, tmp_path)
    wait_for("every line", lambda: es_count(es, prefix) >= len(expected), proc, log, 240)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0

    in_es = es_messages(es, prefix)
    in_kafka = kafka_messages(kafka_config, topic)
    lost_es, lost_kafka = expected - set(in_es), expected - set(in_kafka)
    kafka_total = sum(in_kafka.values())
    print(
        f"after {kills} SIGKILLs: es docs={sum(in_es.values())} kafka records={kafka_total}"
        f" (replayed into kafka: {kafka_total - len(expected)})"
    )
    assert not lost_es and not lost_kafka
    # Elasticsearch is idempotent by _id; Kafka is at-least-once until transactions land.
    assert max(in_es.values()) == 1 and sum(in_es.values()) == len(expected)
