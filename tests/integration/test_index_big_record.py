"""A 10 MiB record in the index flow's topic, through real Kafka and Elasticsearch.

The topic's ``max.message.bytes`` is raised so the broker takes it. The consumer's fetch
settings let it through (a message larger than ``max.partition.fetch.bytes`` still comes whole).
Elasticsearch's limit here is ``bulk_max_bytes`` (10 MiB), so the document does not fit:
``oversize: truncate`` indexes it cut and tagged, ``dead_letter`` writes it to the dead-letter
index with the reason and its topic, partition and offset. While the dead-letter index refuses
writes, the flow stops rather than move past the record; started again once it accepts them,
the record is dead-lettered: the offsets never passed it before its dead letter was written.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
from elasticsearch import Elasticsearch, helpers

from tests.integration.flow_runs import es_count, start, stop_gracefully, wait_for
from tests.integration.pipelines import es_sink, write_pipeline
from tests.integration.sinks import TestSinks

MIB = 1024 * 1024
BIG = 10 * MIB


def raise_topic_limit(kafka_config: dict[str, Any], topic: str, size: int) -> None:
    admin = AdminClient(kafka_config)
    entry = ConfigEntry("max.message.bytes", str(size), incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)


def feed(kafka_config: dict[str, Any], topic: str) -> None:
    producer = Producer({**kafka_config, "message.max.bytes": 12 * MIB})
    for i in range(10):
        if i == 5:
            value = json.dumps({"message": "B" * BIG, "@timestamp": "2026-11-23T00:00:00Z"})
            producer.produce(topic, value.encode(), headers=[("event_id", "big")])
        normal = {"message": f"normal {i}", "@timestamp": "2026-11-23T00:00:00Z"}
        producer.produce(topic, json.dumps(normal).encode(), headers=[("event_id", f"n{i}")])
    assert producer.flush(60) == 0


def documents(es: Elasticsearch, index: str) -> dict[str, dict[str, Any]]:
    es.indices.refresh(index=index, allow_no_indices=True)
    hits = helpers.scan(es, index=index, query={"query": {"match_all": {}}}, size=2)
    found = [hit["_source"] for hit in hits]
    by_id = {doc["event"]["id"]: doc for doc in found}
    assert len(by_id) == len(found), "a document twice"
    return by_id


def pipeline(tmp_path: Path, sinks: TestSinks, oversize: str) -> Path:
    return write_pipeline(
        tmp_path,
        "big",
        snapshot_interval="500ms",
        flow="index",
        kafka_input={"bootstrap_servers": sinks.servers.kafka_bootstrap, "topics": [sinks.topic]},
        elasticsearch=es_sink(
            sinks.servers, sinks.prefix, dead_letter_index=f"{sinks.prefix}dead", oversize=oversize
        ),
    )


def test_a_10_mib_record_is_indexed_cut_and_tagged_with_truncate(
    tmp_path: Path, new_sinks: Callable[..., TestSinks]
) -> None:
    sinks = new_sinks(1)
    raise_topic_limit(sinks.kafka_config, sinks.topic, 12 * MIB)
    feed(sinks.kafka_config, sinks.topic)
    proc = start(pipeline(tmp_path, sinks, "truncate"), tmp_path)
    log = tmp_path / "logwax.log"
    wait_for("11 documents", lambda: es_count(sinks.es, sinks.prefix) >= 11, proc, log, 180)
    stop_gracefully(proc, log)
    by_id = documents(sinks.es, f"{sinks.prefix}-*")
    assert sorted(by_id) == sorted(["big", *(f"n{i}" for i in range(10))])
    big = by_id["big"]
    assert "truncated" in big["tags"] and 0 < len(big["message"]) < BIG
    assert big["kafka"] == {"topic": sinks.topic, "partition": 0, "offset": 5}
    assert big["logwax"]["original_size"] > BIG


def test_a_10_mib_record_is_dead_lettered_and_never_passed_before_its_dead_letter(
    tmp_path: Path, new_sinks: Callable[..., TestSinks]
) -> None:
    sinks = new_sinks(1)
    es, dead = sinks.es, f"{sinks.prefix}dead"
    raise_topic_limit(sinks.kafka_config, sinks.topic, 12 * MIB)
    feed(sinks.kafka_config, sinks.topic)
    es.indices.create(index=dead, settings={"index.blocks.write": True})
    config = pipeline(tmp_path, sinks, "dead_letter")
    log = tmp_path / "logwax.log"
    proc = start(config, tmp_path)
    try:
        code = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the flow went on while its dead letter could not be written")
    refused = log.read_text()
    assert code != 0
    assert "refused a dead letter" in refused and "event_id=big" not in refused.split("\n")[0]
    assert documents(es, dead) == {}

    es.indices.put_settings(index=dead, settings={"index.blocks.write": False})
    proc = start(config, tmp_path)
    wait_for("10 documents", lambda: es_count(es, sinks.prefix) >= 10, proc, log, 180)
    wait_for("the dead letter", lambda: len(documents(es, dead)) == 1, proc, log, 60)
    stop_gracefully(proc, log)
    assert sorted(documents(es, f"{sinks.prefix}-*")) == [f"n{i}" for i in range(10)]
    letter = documents(es, dead)["big"]
    assert letter["kafka"] == {"topic": sinks.topic, "partition": 0, "offset": 5}
    assert json.loads(letter["reason"])["type"] == "oversize" and letter["status"] == 413
    assert letter["size"] > BIG and letter["original_truncated"] is True
