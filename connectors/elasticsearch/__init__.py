"""Elasticsearch: idempotent bulk indexing keyed by event id."""

from connectors.elasticsearch.config import ElasticsearchSinkConfig
from connectors.elasticsearch.sink import ElasticsearchSink

__all__ = ["ElasticsearchSink", "ElasticsearchSinkConfig"]
