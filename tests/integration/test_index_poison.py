"""The five upstream records that each made the index flow exit 1 on every start, each between
normal records, through real Kafka and Elasticsearch: every record is indexed once, the odd
values kept under their documented names and tagged, and the flow stops cleanly on SIGTERM."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from elasticsearch import helpers

from tests.integration.flow_runs import es_count, start, stop_gracefully, wait_for
from tests.integration.pipelines import es_sink, write_pipeline
from tests.integration.sinks import TestSinks

POISON: list[tuple[bytes, bytes]] = [
    (b"epoch-ms", json.dumps({"message": "epoch ms", "@timestamp": 1764000000123}).encode()),
    (
        b"year-1",
        json.dumps({"message": "year 1", "@timestamp": "0001-01-01T00:00:00+14:00"}).encode(),
    ),
    (b"logwax-string", json.dumps({"message": "logwax string", "logwax": "oops"}).encode()),
    (b"deep", b"[" * 100_000 + b"]" * 100_000),
    (b"\xff\xfebad-header", json.dumps({"message": "bad header"}).encode()),
    (b"json-list", json.dumps({"message": "[1, 2, 3]"}).encode()),
]


def feed(kafka_config: dict[str, Any], topic: str) -> None:
    producer = Producer(
        {**kafka_config, "enable.idempotence": True, "message.max.bytes": 1_000_000}
    )
    for i, (event_id, value) in enumerate(POISON):
        for n in (2 * i, 2 * i + 1):
            normal = {"message": f"normal {n}", "@timestamp": "2026-11-23T00:00:00Z"}
            producer.produce(topic, json.dumps(normal).encode(), headers=[("event_id", f"n{n}")])
        producer.produce(topic, value, headers=[("event_id", event_id)])
    assert producer.flush(30) == 0


def test_each_poison_record_is_indexed_tagged_and_the_records_around_it_too(
    tmp_path: Path,
    new_sinks: Callable[..., TestSinks],
) -> None:
    topic, prefix, servers, kafka_config, es = new_sinks(1).parts()
    feed(kafka_config, topic)
    config = write_pipeline(
        tmp_path,
        "poison",
        snapshot_interval="500ms",
        flow="index",
        kafka_input={"bootstrap_servers": servers.kafka_bootstrap, "topics": [topic]},
        transforms=[{"parse_json": "message", "target": "parsed"}],
        elasticsearch=es_sink(servers, prefix, dead_letter_index=f"{prefix}dead"),
    )
    total = 3 * len(POISON)
    proc = start(config, tmp_path)
    log = tmp_path / "logwax.log"
    wait_for(f"{total} documents", lambda: es_count(es, prefix) >= total, proc, log, timeout=120)
    stop_gracefully(proc, log)

    hits = list(helpers.scan(es, index=f"{prefix}-*", query={"query": {"match_all": {}}}))
    by_id = {hit["_source"]["event"]["id"]: hit["_source"] for hit in hits}
    assert len(hits) == total == len(by_id)
    assert not es.indices.exists(index=f"{prefix}dead")
    assert by_id["epoch-ms"]["@timestamp"] == "2025-11-24T16:00:00.123000+00:00"
    year_1 = by_id["year-1"]
    assert "invalid_timestamp" in year_1["tags"]
    assert year_1["timestamp_invalid"] == '"0001-01-01T00:00:00+14:00"'
    assert by_id["logwax-string"]["logwax_invalid"] == '"oops"'
    assert by_id["logwax-string"]["logwax"]["source"] == topic
    assert (
        by_id["deep"]["tags"] == ["not_json", "json_parse_error"]
        and len(by_id["deep"]["message"]) == 200_000
    )
    assert by_id["\\xff\\xfebad-header"]["message"] == "bad header"
    assert by_id["json-list"]["parsed_value"] == "[1,2,3]"
    assert "json_not_object" in by_id["json-list"]["tags"]
