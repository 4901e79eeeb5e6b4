"""Elasticsearch: idempotent bulk indexing keyed by event id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logwax.connectors import lazy
from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig

if TYPE_CHECKING:
    from logwax.connectors.elasticsearch.sink import ElasticsearchSink

__all__ = ["ElasticsearchSink", "ElasticsearchSinkConfig"]
__getattr__ = lazy.exports(__name__, {"ElasticsearchSink": "sink"})
