"""File identity against real Kafka and Elasticsearch: files that share their first line are
different files, each shipped whole, and a SIGKILL replay collapses onto the same event ids."""

from __future__ import annotations

import contextlib
import pickle
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import Elasticsearch

from tests.integration.brokers import Brokers
from tests.integration.flow_runs import (
    es_count,
    es_event_ids,
    es_messages,
    has_resume_point,
    kafka_event_ids,
    kafka_messages,
    start,
    stop_gracefully,
    wait_for,
)

HEADER = "# Version: 1.0 Fields: date time cs-method cs-uri-stem sc-status"


def pipeline(tmp_path: Path, servers: Brokers, topic: str, prefix: str, **source: Any) -> Path:
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "identity_test",
                "sources": [
                    {
                        "type": "files",
                        "name": "app",
                        "include": [f"{tmp_path}/logs/*.log"],
                        "scan_interval": "200ms",
                        **source,
                    }
                ],
                "kafka": {
                    "bootstrap_servers": servers.kafka_bootstrap,
                    "topic": topic,
                    "exactly_once": True,
                },
                "elasticsearch": {"hosts": [servers.elasticsearch_url], "index": f"{prefix}-%Y"},
                "batch": {"max_records": 500, "max_latency": "200ms"},
                "recovery": {"directory": str(tmp_path / "recovery"), "snapshot_interval": "500ms"},
            }
        )
    )
    return config


def write_same_head_files(logs: Path, files: int, lines: int) -> set[str]:
    logs.mkdir(parents=True, exist_ok=True)
    expected = set()
    for f in range(files):
        with open(logs / f"site{f}.log", "a") as out:
            out.write(HEADER + "\n")
            for i in range(lines):
                line = f"site={f} line={i} GET /index.html 200"
                out.write(line + "\n")
                expected.add(line)
    return expected


def test_two_live_files_with_the_same_first_line_are_both_shipped_whole(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    es: Elasticsearch,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> None:
    expected = write_same_head_files(tmp_path / "logs", files=2, lines=500)
    topic, prefix = new_topic(partitions=2), new_index_prefix()
    config = pipeline(tmp_path, servers, topic, prefix)
    log = tmp_path / "logwax.log"
    total = len(expected) + 2  # both headers are lines of their own file

    proc = start(config, tmp_path)
    wait_for(
        "both files in Kafka",
        lambda: len(kafka_event_ids(kafka_config, topic)) >= total,
        proc,
        log,
        timeout=45,
        poll=1,
    )
    wait_for("both files in Elasticsearch", lambda: es_count(es, prefix) >= total, proc, log, 30)
    stop_gracefully(proc)

    in_kafka, ids_kafka = kafka_messages(kafka_config, topic), kafka_event_ids(kafka_config, topic)
    in_es = es_messages(es, prefix)
    assert set(in_kafka) == expected | {HEADER} and in_kafka[HEADER] == 2
    assert len(ids_kafka) == total and max(ids_kafka.values()) == 1
    assert set(in_es) == expected | {HEADER} and sum(in_es.values()) == total
    assert len(es_event_ids(es, prefix)) == total


def as_the_previous_release_kept_it(recovery: Path) -> int:
    """Rewrite every files-source snapshot into the previous release's shape, fingerprint →
    (offset, generation, path); returns how many entries it rewrote."""
    rewritten = 0
    for part in recovery.glob("part-*.sqlite3"):
        with contextlib.closing(sqlite3.connect(part, timeout=5)) as db, db:
            rows = db.execute(
                "SELECT rowid, ser_change FROM snaps WHERE step_id LIKE '%source%'"
                " AND ser_change IS NOT NULL"
            ).fetchall()
            for rowid, blob in rows:
                state = pickle.loads(blob)
                old = {v[3]: (v[0], v[1], v[2]) for v in state.values()}
                rewritten += len(old)
                db.execute(
                    "UPDATE snaps SET ser_change = ? WHERE rowid = ?", (pickle.dumps(old), rowid)
                )
    return rewritten


def test_a_snapshot_of_the_previous_release_resumes_without_loss_or_duplicates(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    es: Elasticsearch,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> None:
    """The first run names files by fingerprint alone, as the previous release did (same
    streams, same ids ``fingerprint:offset``), is SIGKILLed mid-stream, and its snapshot is
    rewritten into the previous release's shape. The upgraded run resumes from it: every line
    exactly once in Kafka (read_committed) and Elasticsearch, and the file that shares its
    first line with another, which the previous release never read, is read too."""
    logs = tmp_path / "logs"
    expected = write_same_head_files(logs, files=1, lines=40_000)
    (logs / "other.log").write_text("".join(f"other line={i}\n" for i in range(20_000)))
    expected |= {f"other line={i}" for i in range(20_000)} | {HEADER}
    topic, prefix = new_topic(partitions=2), new_index_prefix()
    config = pipeline(tmp_path, servers, topic, prefix, file_identity="fingerprint")
    log, recovery = tmp_path / "logwax.log", tmp_path / "recovery"

    proc = start(config, tmp_path)
    wait_for(
        "a snapshot mid-stream",
        lambda: es_count(es, prefix) >= 10_000 and has_resume_point(recovery),
        proc,
        log,
        poll=0.05,
    )
    proc.kill()
    proc.wait()
    at_kill = es_count(es, prefix)
    assert at_kill < len(expected)
    assert as_the_previous_release_kept_it(recovery) >= 1

    with open(logs / "site0.log", "a") as out:  # more lines, and the same-head file appears
        out.writelines(f"site=0 late={i}\n" for i in range(1000))
    expected |= {f"site=0 late={i}" for i in range(1000)}
    with open(logs / "site1.log", "w") as out:  # same first line as site0.log
        out.write(HEADER + "\n")
        out.writelines(f"site=1 line={i}\n" for i in range(1000))
    expected |= {f"site=1 line={i}" for i in range(1000)}
    total = len(expected) + 1  # the header is in both site files
    config = pipeline(tmp_path, servers, topic, prefix)  # the upgrade: default identity

    proc = start(config, tmp_path)
    wait_for("every line", lambda: es_count(es, prefix) >= total, proc, log, timeout=180)
    wait_for(
        "every line in Kafka",
        lambda: sum(kafka_event_ids(kafka_config, topic).values()) >= total,
        proc,
        log,
        timeout=120,
        poll=2,
    )
    stop_gracefully(proc)

    in_kafka, ids_kafka = kafka_messages(kafka_config, topic), kafka_event_ids(kafka_config, topic)
    ids_es = es_event_ids(es, prefix)
    print(f"killed at {at_kill} of {total}; kafka {sum(ids_kafka.values())}, es {len(ids_es)}")
    assert set(in_kafka) == expected and sum(in_kafka.values()) == total
    assert len(ids_kafka) == total and max(ids_kafka.values()) == 1
    assert len(ids_es) == total and max(ids_es.values()) == 1
