"""The brokers the suites use are real: Kafka does transactions, Elasticsearch searches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from tests.integration.kafka_helpers import read_all


def test_kafka_transactions_hide_aborted_records_from_read_committed(
    kafka_config: dict[str, Any], new_topic: Callable[..., str]
) -> None:
    topic = new_topic()
    producer = Producer({**kafka_config, "transactional.id": f"smoke-{topic}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, b"kept-1")
    producer.produce(topic, b"kept-2")
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, b"aborted")
    producer.flush(30)
    producer.abort_transaction(30)

    committed = [m.value() for m in read_all(kafka_config, topic, committed_only=True)]
    everything = [m.value() for m in read_all(kafka_config, topic, committed_only=False)]

    assert committed == [b"kept-1", b"kept-2"]
    assert everything == [b"kept-1", b"kept-2", b"aborted"]


def test_elasticsearch_indexes_and_finds_a_document(
    es: Elasticsearch, new_index_prefix: Callable[[], str]
) -> None:
    index = new_index_prefix()
    es.index(index=index, id="one", document={"message": "hello logwax", "n": 1}, refresh=True)
    es.index(index=index, id="two", document={"message": "something else", "n": 2}, refresh=True)

    hits = es.search(index=index, query={"match": {"message": "logwax"}})["hits"]

    assert hits["total"]["value"] == 1
    assert hits["hits"][0]["_id"] == "one"
    # The integ-test distribution has no rest-root module (GET /), so ask the nodes API.
    versions = {node["version"] for node in es.nodes.info()["nodes"].values()}
    assert all(v.startswith("8.") for v in versions), versions
