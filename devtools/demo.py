"""``make demo``: local Kafka and Elasticsearch, sample logs, and the collect flow shipping them.

It shows the whole path on one machine: sample files (plus one that keeps growing) are tailed,
produced to a Kafka topic and indexed into Elasticsearch, and every few seconds the demo prints
how many records each destination holds. Ctrl-C stops it; running it again resumes from its
recovery directory, so the counts continue instead of doubling.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import KafkaException
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

import devtools
from devtools.home import paths
from logwax.app.runner import run_flow
from logwax.connectors.kafka.admin import ensure_topic, topic_end_offsets
from logwax.flows import collect
from logwax.settings import PipelineConfig, parse_config

TOPIC = "logwax-demo"
INDEX_PATTERN = "logwax-demo-%Y.%m.%d"
SAMPLE_FILES = {"web.log": 2000, "worker.log": 1500, "auth.log": 500}
_LEVELS = ["INFO"] * 8 + ["WARN", "ERROR"]


def write_samples(directory: Path) -> None:
    """Deterministic sample logs (seeded), written once so a rerun finds the same files."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    for name, count in SAMPLE_FILES.items():
        path = directory / name
        if path.exists():
            continue
        with open(path, "w") as out:
            for i in range(count):
                out.write(
                    f"{name.split('.')[0]} seq={i} level={rng.choice(_LEVELS)} "
                    f"latency_ms={rng.randint(1, 900)} user=u{rng.randint(1, 50)}\n"
                )


def _append_forever(path: Path, stop: threading.Event) -> None:
    counter = 0
    while not stop.wait(0.5):
        with open(path, "a") as out:
            out.write(f"live seq={counter} at={datetime.now(UTC).isoformat()}\n")
        counter += 1


def _report(config: PipelineConfig, stop: threading.Event) -> None:
    kafka_client = {"bootstrap.servers": config.kafka.bootstrap_servers} if config.kafka else {}
    es = Elasticsearch(config.elasticsearch.hosts) if config.elasticsearch else None
    while not stop.wait(3):
        # A count that cannot be had now is said so; the report goes on (the flow retries too).
        in_kafka: int | str
        in_es: int | str
        try:
            in_kafka = sum(topic_end_offsets(kafka_client, TOPIC).values())
        except KafkaException as exc:
            in_kafka = f"unreachable ({exc.args[0].str() if exc.args else exc})"
        try:
            in_es = es.count(index="logwax-demo-*")["count"] if es else 0
        except NotFoundError:
            in_es = 0
        except (ApiError, TransportError) as exc:
            in_es = f"unreachable ({type(exc).__name__})"
        print(
            f"[demo] kafka topic {TOPIC!r} @ {kafka_client['bootstrap.servers']}: "
            f"{in_kafka} records | elasticsearch index 'logwax-demo-*' @ "
            f"{config.elasticsearch.hosts[0] if config.elasticsearch else '-'}: {in_es} docs",
            flush=True,
        )


def run_demo() -> int:
    endpoints = devtools.up()
    demo_dir = paths().run / "demo"
    logs = demo_dir / "logs"
    write_samples(logs)
    config = parse_config(
        {
            "name": "demo",
            "sources": [
                {
                    "type": "files",
                    "name": "sample",
                    "include": [f"{logs}/*.log"],
                    "scan_interval": "2s",
                }
            ],
            "kafka": {"bootstrap_servers": endpoints.kafka_bootstrap, "topic": TOPIC},
            "elasticsearch": {"hosts": [endpoints.elasticsearch_url], "index": INDEX_PATTERN},
            "recovery": {"directory": str(demo_dir / "recovery"), "snapshot_interval": "2s"},
        },
        "demo",
    )
    ensure_topic({"bootstrap.servers": endpoints.kafka_bootstrap}, TOPIC, partitions=3)
    print(
        f"[demo] tailing {logs}/*.log → Kafka {endpoints.kafka_bootstrap} topic {TOPIC!r} "
        f"and Elasticsearch {endpoints.elasticsearch_url} index {INDEX_PATTERN!r}; Ctrl-C stops"
    )
    stop = threading.Event()
    threads = [
        threading.Thread(target=_append_forever, args=(logs / "live.log", stop), daemon=True),
        threading.Thread(target=_report, args=(config, stop), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        run_flow(collect.build(config), config)
    finally:
        stop.set()
    print(
        "\n[demo] stopped after a final snapshot; servers keep running (`make dev-down` stops them)"
    )
    return 0
