"""How large one document may be, learnt from the cluster at start.

A bulk request larger than the node's ``http.max_content_length`` (100mb by default) is refused
whole with 413, and one over its indexing-pressure limit with 429, which the sink would retry
forever. The sink keeps each request under ``bulk_max_bytes``; a single document over the smaller
of the two would make a request over it on its own, so that is the per-document limit.
"""

from __future__ import annotations

import logging

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

log = logging.getLogger(__name__)

CLUSTER_DEFAULT = 100 * 1024 * 1024
# The bulk action line of a document (index name, _id) comes on top of its source.
ACTION_OVERHEAD = 256
# Elasticsearch's byte units are binary: "100mb" is 100 MiB.
_UNITS = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "pb": 1 << 50}


def es_bytes(value: str) -> int:
    text = value.strip().lower()
    for unit in ("kb", "mb", "gb", "tb", "pb", "b"):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * _UNITS[unit])
    return int(text)


def max_content_length(client: Elasticsearch) -> int:
    """``http.max_content_length`` as the cluster sets it, or its default when not readable."""
    try:
        settings = client.cluster.get_settings(include_defaults=True, flat_settings=True)
        for scope in ("transient", "persistent", "defaults"):
            value = settings.get(scope, {}).get("http.max_content_length")
            if value is not None:
                return es_bytes(str(value))
    except (ValueError, ApiError, TransportError) as exc:
        log.warning(
            "elasticsearch http.max_content_length not readable (%s); assuming %d",
            exc,
            CLUSTER_DEFAULT,
        )
    return CLUSTER_DEFAULT


def document_limit(client: Elasticsearch, bulk_max_bytes: int) -> tuple[int, str]:
    """Bytes a document's source may take, and the words naming where that comes from."""
    content = max_content_length(client)
    limit = min(content, bulk_max_bytes) - ACTION_OVERHEAD
    return limit, f"http.max_content_length={content} bulk_max_bytes={bulk_max_bytes}"
