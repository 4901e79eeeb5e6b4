"""Elasticsearch: idempotent bulk indexing keyed by event id."""

from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.connectors.elasticsearch.sink import ElasticsearchSink

__all__ = ["ElasticsearchSink", "ElasticsearchSinkConfig"]
