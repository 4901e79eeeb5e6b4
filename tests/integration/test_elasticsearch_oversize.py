"""Documents at 0.99x, 1x, 1.01x and 10x the Elasticsearch sink's per-document limit (learnt from
the cluster's http.max_content_length and bulk_max_bytes), with both oversize policies, and a
document the cluster refuses per item (a mapping conflict): each ends exactly once in its index
or in the dead-letter index, and the documents around it are indexed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers

from logwax.connectors.elasticsearch import ElasticsearchSink
from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.connectors.elasticsearch.limits import ACTION_OVERHEAD, max_content_length
from logwax.core import jsoncodec
from logwax.core.record import Record
from tests.integration.brokers import Brokers

BULK = 64 * 1024
LIMIT = BULK - ACTION_OVERHEAD
FACTORS = {"s099": 0.99, "s100": 1.0, "s101": 1.01, "s1000": 10.0}
STAMP = 1_700_000_000_000_000_000


def sized(event_id: str, target: int) -> Record:
    empty = Record("test", "big", event_id, STAMP, "", {})
    return empty._replace(message="x" * (target - len(jsoncodec.dumps(empty.to_document()))))


def small(i: int, fields: dict[str, Any] | None = None) -> Record:
    return Record("test", "small", f"n{i}", STAMP, f"normal {i}", fields or {})


def sources(es: Elasticsearch, index: str) -> dict[str, dict[str, Any]]:
    es.indices.refresh(index=index, allow_no_indices=True, ignore_unavailable=True)
    hits = helpers.scan(
        es, index=index, query={"query": {"match_all": {}}}, ignore_unavailable=True
    )
    found: dict[str, dict[str, Any]] = {}
    for hit in hits:
        event_id = hit["_source"]["event"]["id"]
        assert event_id not in found
        found[event_id] = hit["_source"]
    return found


def test_the_limit_is_read_from_the_cluster(es: Elasticsearch) -> None:
    assert max_content_length(es) == 100 * 1024 * 1024


@pytest.mark.parametrize("policy", ["truncate", "dead_letter"])
def test_documents_around_the_limit_land_once_in_the_index_or_the_dead_letters(
    servers: Brokers, es: Elasticsearch, new_index_prefix: Callable[[], str], policy: str
) -> None:
    prefix = new_index_prefix()
    config = ElasticsearchSinkConfig(
        hosts=[servers.elasticsearch_url],
        index=f"{prefix}-%Y",
        dead_letter_index=f"{prefix}dead",
        bulk_max_bytes=BULK,
        oversize=policy,
    )
    records = []
    for i, (name, factor) in enumerate(FACTORS.items()):
        records += [small(i), sized(name, int(LIMIT * factor))]
    # A per-item refusal: kubernetes.namespace is a keyword in the template, here an object.
    records += [small(50, {"kubernetes": {"namespace": {"not": "a string"}}}), small(51)]
    records += [small(52, {"kubernetes": {"namespace": "ns"}})]
    part = ElasticsearchSink(config).build("sink", 0, 1)
    part.write_batch([records[:3]])
    part.write_batch([records[3:]])
    part.close()

    indexed, dead = sources(es, f"{prefix}-*"), sources(es, f"{prefix}dead")
    assert set(indexed) | set(dead) == {r.event_id for r in records}
    assert not set(indexed) & set(dead)
    refused = [doc for doc in dead.values() if doc["status"] != 413]
    assert len(refused) == 1
    assert refused[0]["logwax"] == {"source": "test", "stream": "small"}
    over = {"s101", "s1000"}
    if policy == "truncate":
        assert over <= set(indexed)
        for name in over:
            assert indexed[name]["tags"] == ["truncated"]
            assert indexed[name]["logwax"]["original_size"] == int(LIMIT * FACTORS[name])
            assert len(jsoncodec.dumps(indexed[name])) <= LIMIT
    else:
        assert over <= set(dead)
        for name in over:
            assert "oversize" in dead[name]["reason"] and dead[name]["status"] == 413
            assert dead[name]["original_truncated"] is True
    for name in ("s099", "s100"):
        assert "tags" not in indexed[name]
