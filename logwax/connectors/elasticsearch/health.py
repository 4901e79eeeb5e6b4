"""``logwax check`` for the Elasticsearch sink: does the cluster answer, and how healthy is it."""

from __future__ import annotations

from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig


def probe(config: ElasticsearchSinkConfig) -> str:
    client = config.client()
    try:
        health = client.cluster.health(timeout="5s")
    finally:
        client.close()
    return f"{config.hosts[0]}: cluster {health['cluster_name']} is {health['status']}"
