"""File identity against real Kafka and Elasticsearch: files that share their first line are
different files, each shipped whole, and a SIGKILL replay collapses onto the same event ids."""

from __future__ import annotations

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
