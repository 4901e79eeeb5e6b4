"""The collect flow with exactly-once Kafka: 100,000 lines, SIGKILLed at five random moments,
restarted each time from its recovery directory; then every line is in Kafka (read_committed)
exactly once and in Elasticsearch exactly once."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import Elasticsearch

from logwax.connectors.kafka.transactional import CRASH_AFTER_COMMIT_ENV
from tests.integration.brokers import Brokers
from tests.integration.flow_runs import (
    es_count,
    es_event_ids,
    kafka_event_ids,
    kafka_messages,
    kill_at_random_moments,
    start,
    stop_gracefully,
    wait_for,
)

LINES_PER_FILE, FILES = 25_000, 4
EXACTLY_ONCE = True


def write_files(directory: Path) -> set[str]:
    directory.mkdir()
    expected = set()
    for f in range(FILES):
        with open(directory / f"app{f}.log", "w") as out:
            for i in range(LINES_PER_FILE):
                line = f"file={f} seq={i} {'y' * 150}"
                out.write(line + "\n")
                expected.add(line)
    return expected


def exactly_once_pipeline(tmp_path: Path, servers: Brokers, topic: str, prefix: str) -> Path:
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "eo_collect",
                "sources": [
                    {"type": "files", "name": "app", "include": [f"{tmp_path}/logs/*.log"]}
                ],
                "kafka": {
                    "bootstrap_servers": servers.kafka_bootstrap,
                    "topic": topic,
                    "exactly_once": EXACTLY_ONCE,
                },
                "elasticsearch": {"hosts": [servers.elasticsearch_url], "index": f"{prefix}-%Y"},
                "batch": {"max_records": 2000, "max_latency": "300ms"},
                "recovery": {"directory": str(tmp_path / "recovery"), "snapshot_interval": "500ms"},
            }
        )
    )
    return config


def test_five_sigkills_leave_every_line_exactly_once_in_kafka_and_elasticsearch(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    es: Elasticsearch,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> None:
    expected = write_files(tmp_path / "logs")
    topic, prefix = new_topic(partitions=3), new_index_prefix()
    config = exactly_once_pipeline(tmp_path, servers, topic, prefix)

    proc, delays = kill_at_random_moments(config, tmp_path, kills=5, seed=20261123)
    wait_for(
        "every line",
        lambda: es_count(es, prefix) >= len(expected),
        proc,
        tmp_path / "logwax.log",
        timeout=300,
    )
    wait_for(
        "every line in kafka",
        lambda: sum(kafka_event_ids(kafka_config, topic).values()) >= len(expected),
        proc,
        tmp_path / "logwax.log",
        timeout=120,
        poll=2,
    )
    stop_gracefully(proc)

    in_kafka, ids_kafka = kafka_messages(kafka_config, topic), kafka_event_ids(kafka_config, topic)
    ids_es = es_event_ids(es, prefix)
    lost = len(expected - set(in_kafka))
    duplicated = sum(n - 1 for n in ids_kafka.values())
    print(
        f"kills after {delays}s: kafka lost={lost} duplicated={duplicated}; "
        f"elasticsearch docs={sum(ids_es.values())} unique={len(ids_es)}"
    )
    assert lost == 0 and duplicated == 0
    assert set(in_kafka) == expected and len(ids_kafka) == len(expected)
    assert len(ids_es) == len(expected) and max(ids_es.values()) == 1


def test_crash_between_kafka_commit_and_snapshot_is_not_replayed(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    es: Elasticsearch,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> None:
    """The process dies right after committing a Kafka transaction, before bytewax stored the
    epoch: the restarted sink must find those records by reading back and not send them again."""
    expected = write_files(tmp_path / "logs")
    topic, prefix = new_topic(partitions=3), new_index_prefix()
    config = exactly_once_pipeline(tmp_path, servers, topic, prefix)
    log = tmp_path / "logwax.log"

    for commit in ("4", "2"):
        crashing = start(config, tmp_path, env={CRASH_AFTER_COMMIT_ENV: commit})
        assert crashing.wait(timeout=120) == -signal.SIGKILL
    proc = start(config, tmp_path)
    wait_for("every line", lambda: es_count(es, prefix) >= len(expected), proc, log, 300)
    wait_for(
        "every line in kafka",
        lambda: sum(kafka_event_ids(kafka_config, topic).values()) >= len(expected),
        proc,
        log,
        timeout=120,
        poll=2,
    )
    stop_gracefully(proc)

    skipped = log.read_text().count("skipping their replays")
    ids_kafka = kafka_event_ids(kafka_config, topic)
    print(f"restarts that skipped committed replays: {skipped}")
    assert skipped >= 2  # the read-back really found records committed after the snapshot
    assert len(ids_kafka) == len(expected) and max(ids_kafka.values()) == 1
