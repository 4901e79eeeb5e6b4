"""A write larger than the node's indexing-pressure limit still lands, in bounded requests.

bytewax hands a sink every batch that is ready at once; when the sink falls behind that is many
batches. Sent as one bulk request, more than the node's indexing-pressure limit (10% of its
heap) is refused with 429 as a whole, every time, and the flow stalls retrying it (seen with the
index flow in two processes). The sink splits by ``bulk_max_documents`` and ``bulk_max_bytes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from elasticsearch import Elasticsearch

from logwax.connectors.elasticsearch import ElasticsearchSink
from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.core.record import Record


def coordinating_limit(es: Elasticsearch) -> int:
    stats: dict[str, Any] = es.nodes.stats(metric="indexing_pressure").body
    node = next(iter(stats["nodes"].values()))
    return int(node["indexing_pressure"]["memory"]["limit_in_bytes"])


def test_a_write_over_the_indexing_pressure_limit_is_split_and_lands(
    es: Elasticsearch, servers: Any, new_index_prefix: Callable[[], str]
) -> None:
    index = new_index_prefix()
    limit = coordinating_limit(es)
    message = "m" * 4000
    count = int(limit * 1.3) // len(message) + 1
    assert count < 200_000, f"node limit {limit} too large for this test's budget"
    config = ElasticsearchSinkConfig(
        hosts=[servers.elasticsearch_url], index=index, max_retries=2, retry_backoff="100ms"
    )
    part = ElasticsearchSink(config).build("sink", 0, 1)
    records = [Record("t", "s", f"big-{i}", 0, message, {}) for i in range(count)]
    part.write_batch([records[i : i + 5000] for i in range(0, count, 5000)])
    es.indices.refresh(index=index)
    assert int(es.count(index=index)["count"]) == count
