"""File identity against real Kafka and Elasticsearch: files that share their first line are
different files, each shipped whole; a snapshot of the previous release resumes exactly."""

from __future__ import annotations

import contextlib
import pickle
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.flow_runs import (
    es_messages,
    has_resume_point,
    kafka_messages,
    start,
    stop_gracefully,
    wait_for,
)
from tests.integration.pipelines import files_source, write_pipeline
from tests.integration.sinks import TestSinks

HEADER = "# Version: 1.0 Fields: date time cs-method cs-uri-stem sc-status"


def pipeline(tmp_path: Path, sinks: TestSinks, **source: Any) -> Path:
    return write_pipeline(
        tmp_path,
        "identity_test",
        snapshot_interval="500ms",
        sources=[files_source(tmp_path, scan_interval="200ms", **source)],
        kafka=sinks.kafka(exactly_once=True),
        elasticsearch=sinks.elasticsearch(),
        batch={"max_records": 500, "max_latency": "200ms"},
    )


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
    tmp_path: Path, new_sinks: Callable[..., TestSinks]
) -> None:
    expected = write_same_head_files(tmp_path / "logs", files=2, lines=500)
    sinks = new_sinks(partitions=2)
    log, total = tmp_path / "logwax.log", len(expected) + 2  # each file's header is a line

    proc = start(pipeline(tmp_path, sinks), tmp_path)
    sinks.wait_delivered(proc, log, total, timeout=45)
    stop_gracefully(proc)

    in_kafka = kafka_messages(sinks.kafka_config, sinks.topic)
    assert set(in_kafka) == expected | {HEADER} and in_kafka[HEADER] == 2
    assert set(es_messages(sinks.es, sinks.prefix)) == expected | {HEADER}
    sinks.assert_exactly_once(total)


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
    tmp_path: Path, new_sinks: Callable[..., TestSinks]
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
    sinks = new_sinks(partitions=2)
    log, recovery = tmp_path / "logwax.log", tmp_path / "recovery"

    proc = start(pipeline(tmp_path, sinks, file_identity="fingerprint"), tmp_path)
    wait_for(
        "a snapshot mid-stream",
        lambda: sinks.es_count() >= 10_000 and has_resume_point(recovery),
        proc,
        log,
        poll=0.05,
    )
    proc.kill()
    proc.wait()
    at_kill = sinks.es_count()
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

    proc = start(pipeline(tmp_path, sinks), tmp_path)  # the upgrade: default identity
    sinks.wait_delivered(proc, log, total, timeout=180)
    stop_gracefully(proc)

    in_kafka = kafka_messages(sinks.kafka_config, sinks.topic)
    print(f"killed at {at_kill} of {total}; kafka {sum(in_kafka.values())}")
    assert set(in_kafka) == expected and sum(in_kafka.values()) == total
    sinks.assert_exactly_once(total)
