"""The index flow's Kafka source with documents at 0.99x, 1x, 1.01x and 10x the Elasticsearch
sink's per-document limit (bulk_max_bytes lowered to 64 KiB), both policies, ordinary documents
of another stream alongside, SIGKILLed at random moments and restarted: each document ends
exactly once in its index or in the dead-letter index."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from logwax.connectors.elasticsearch.limits import ACTION_OVERHEAD
from tests.integration.flow_runs import (
    es_count,
    es_event_ids,
    kill_at_random_moments,
    stop_gracefully,
    wait_for,
)
from tests.integration.pipelines import es_sink, write_pipeline
from tests.integration.sinks import TestSinks

BULK = 64 * 1024
LIMIT = BULK - ACTION_OVERHEAD
FACTORS = {"s099": 0.99, "s100": 1.0, "s101": 1.01, "s1000": 10.0}
NORMAL = 20_000


def feed(kafka_config: dict[str, Any], topic: str) -> None:
    producer = Producer({**kafka_config, "enable.idempotence": True, "linger.ms": 20})
    big = iter(FACTORS.items())
    for i in range(NORMAL):
        document = {"message": f"normal {i}", "@timestamp": "2026-11-23T00:00:00Z"}
        document["logwax"] = {"source": "upstream", "stream": "other"}
        producer.produce(topic, json.dumps(document).encode(), headers=[("event_id", f"n{i}")])
        if i % 5000 == 2500:
            name, factor = next(big)
            document = {"message": "b" * int(LIMIT * factor), "@timestamp": "2026-11-23T00:00:00Z"}
            producer.produce(topic, json.dumps(document).encode(), headers=[("event_id", name)])
        producer.poll(0)
    assert producer.flush(30) == 0


@pytest.mark.parametrize("policy", ["truncate", "dead_letter"])
def test_index_flow_documents_over_the_limit_survive_sigkills_exactly_once(
    tmp_path: Path,
    new_sinks: Callable[..., TestSinks],
    policy: str,
) -> None:
    topic, prefix, servers, kafka_config, es = new_sinks(2).parts()
    feed(kafka_config, topic)
    dead_index = f"{prefix}-dead"  # under the prefix, so counted with the rest
    config = write_pipeline(
        tmp_path,
        "index_oversize",
        snapshot_interval="500ms",
        flow="index",
        kafka_input={"bootstrap_servers": servers.kafka_bootstrap, "topics": [topic], "shards": 2},
        elasticsearch=es_sink(
            servers, prefix, bulk_max_bytes=BULK, oversize=policy, dead_letter_index=dead_index
        ),
    )
    total = NORMAL + len(FACTORS)
    proc, delays = kill_at_random_moments(config, tmp_path, kills=3, seed=21, latest=2.5)
    log = tmp_path / "logwax.log"
    wait_for("every document", lambda: es_count(es, prefix) >= total, proc, log, timeout=300)
    stop_gracefully(proc, log)

    found = es_event_ids(es, prefix)
    print(f"{policy}: kills after {delays}s; {sum(found.values())} documents")
    assert set(found) == {f"n{i}" for i in range(NORMAL)} | set(FACTORS)
    assert max(found.values()) == 1
    es.indices.refresh(index=dead_index, ignore_unavailable=True)
    dead = es.count(index=dead_index, ignore_unavailable=True)["count"]
    # The factors are of the message; with the record's own fields around it the 1x one is
    # over the limit too.
    assert dead == (0 if policy == "truncate" else 3)
