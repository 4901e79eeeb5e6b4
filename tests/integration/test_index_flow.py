"""The index flow: Kafka (read_committed) → transforms → dedup → Elasticsearch, killed five
times at random moments; bad documents go to the dead-letter index and the flow goes on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Producer

from tests.integration.brokers import Brokers
from tests.integration.flow_runs import (
    es_count,
    es_event_ids,
    kill_at_random_moments,
    start,
    stop_gracefully,
    wait_for,
)
from tests.integration.sinks import TestSinks

N = 50_000


def produce(
    kafka_config: dict[str, Any],
    topic: str,
    documents: list[tuple[str, dict[str, Any]]],
    aborted: int = 0,
) -> None:
    """Committed documents, plus ``aborted`` ones in an aborted transaction (never to be read)."""
    producer = Producer({**kafka_config, "transactional.id": f"feeder-{topic}", "linger.ms": 20})
    producer.init_transactions(30)
    producer.begin_transaction()
    for event_id, document in documents:
        producer.produce(
            topic,
            json.dumps(document).encode(),
            key=event_id.encode(),
            headers=[("event_id", event_id.encode())],
        )
        producer.poll(0)
    producer.commit_transaction(60)
    producer.begin_transaction()
    for i in range(aborted):
        producer.produce(
            topic,
            json.dumps({"message": f"aborted {i}"}).encode(),
            headers=[("event_id", f"aborted-{i}".encode())],
        )
    producer.flush(30)
    producer.abort_transaction(30)


def pipeline(tmp_path: Path, servers: Brokers, topic: str, index: str, **extra: Any) -> Path:
    config = tmp_path / "index.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "index_test",
                "flow": "index",
                "kafka_input": {
                    "bootstrap_servers": servers.kafka_bootstrap,
                    "topics": [topic],
                    "shards": 2,
                },
                "transforms": [
                    {"parse_json": "message", "target": "parsed"},
                    {"rename": {"app.name": "service"}},
                    {"drop": ["app"]},
                    {"add": {"pipeline": "index-test"}},
                ],
                "elasticsearch": {"hosts": [servers.elasticsearch_url], "index": index, **extra},
                "recovery": {
                    "directory": str(tmp_path / "recovery"),
                    "snapshot_interval": "500ms",
                    "partitions": 1,
                },
            }
        )
    )
    return config


def test_index_flow_survives_five_sigkills_exactly_once_with_transforms(
    tmp_path: Path,
    new_sinks: Callable[..., TestSinks],
) -> None:
    topic, prefix, servers, kafka_config, es = new_sinks(4).parts()
    documents = [
        (
            f"id-{i}",
            {
                "message": json.dumps({"n": i}),
                "app": {"name": f"svc{i % 7}"},
                "@timestamp": "2026-11-23T00:00:00Z",
            },
        )
        for i in range(N)
    ]
    produce(kafka_config, topic, documents, aborted=500)
    config = pipeline(tmp_path, servers, topic, f"{prefix}-%Y.%m.%d")

    proc, delays = kill_at_random_moments(config, tmp_path, kills=5, seed=7, latest=2.5)
    wait_for(
        "every document",
        lambda: es_count(es, prefix) >= N,
        proc,
        tmp_path / "logwax.log",
        timeout=300,
    )
    stop_gracefully(proc)

    ids = es_event_ids(es, prefix)
    print(f"kills after {delays}s: documents={sum(ids.values())} unique={len(ids)}")
    assert set(ids) == {event_id for event_id, _ in documents}  # and none of the aborted ones
    assert max(ids.values()) == 1
    sample = es.search(index=f"{prefix}-*", query={"term": {"event.id": "id-42"}})["hits"]
    source = sample["hits"][0]["_source"]
    assert source["parsed"] == {"n": 42} and source["service"] == "svc0"
    assert "app" not in source and source["pipeline"] == "index-test"
    assert source["@timestamp"].startswith("2026-11-23T00:00:00")


def test_rejected_documents_go_to_the_dead_letter_index_and_the_flow_goes_on(
    tmp_path: Path,
    new_sinks: Callable[..., TestSinks],
) -> None:
    topic, prefix, servers, kafka_config, es = new_sinks(1).parts()
    index, dead = f"{prefix}-docs", f"{prefix}-dead"
    es.indices.create(index=index, mappings={"properties": {"size": {"type": "integer"}}})
    good = [(f"good-{i}", {"message": "fine", "size": i}) for i in range(200)]
    bad = [(f"bad-{i}", {"message": "oops", "size": "not a number"}) for i in range(5)]
    produce(kafka_config, topic, good[:100] + bad + good[100:])
    config = pipeline(
        tmp_path, servers, topic, index, dead_letter_index=dead, install_template=False
    )

    proc = start(config, tmp_path)
    wait_for(
        "good documents and dead letters",
        lambda: es_count(es, prefix) >= 205,
        proc,
        tmp_path / "logwax.log",
    )
    stop_gracefully(proc)

    letters = es.search(index=dead, size=10)["hits"]["hits"]
    assert sorted(h["_source"]["event"]["id"] for h in letters) == [f"bad-{i}" for i in range(5)]
    assert all("parsing_exception" in h["_source"]["reason"] for h in letters)
    assert es.count(index=index)["count"] == 200
    assert all(h["_source"]["target_index"] == index for h in letters)


def test_partitions_added_to_the_input_topic_are_picked_up_while_running(
    tmp_path: Path,
    new_sinks: Callable[..., TestSinks],
) -> None:
    from confluent_kafka.admin import AdminClient, NewPartitions

    topic, prefix, servers, kafka_config, es = new_sinks(1).parts()
    produce(kafka_config, topic, [(f"before-{i}", {"message": "x"}) for i in range(100)])
    config = pipeline(tmp_path, servers, topic, f"{prefix}-%Y")
    document = yaml.safe_load(config.read_text())
    document["kafka_input"]["partition_scan_interval"] = 1
    config.write_text(yaml.safe_dump(document))
    proc = start(config, tmp_path)
    wait_for(
        "the first records", lambda: es_count(es, prefix) >= 100, proc, tmp_path / "logwax.log"
    )

    admin = AdminClient(kafka_config)
    admin.create_partitions([NewPartitions(topic, 3)])[topic].result(30)
    producer = Producer(kafka_config)
    for partition in (1, 2):
        for i in range(50):
            producer.produce(
                topic,
                b'{"message": "new"}',
                partition=partition,
                headers=[("event_id", f"p{partition}-{i}".encode())],
            )
    assert producer.flush(30) == 0
    wait_for(
        "records of the new partitions",
        lambda: es_count(es, prefix) >= 200,
        proc,
        tmp_path / "logwax.log",
        timeout=60,
    )
    stop_gracefully(proc)
    assert es_count(es, prefix) == 200
