"""The composable index template installed at start, so dated indices get a sane mapping.

Only core field types: the stripped integ-test distribution the tests run against has no
mapper-extras (``match_only_text``) and no data streams.
"""

from __future__ import annotations

import logging

from elasticsearch import ApiError, Elasticsearch

log = logging.getLogger(__name__)

MAPPINGS = {
    "dynamic": True,
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {"type": "text"},
        "event": {"properties": {"id": {"type": "keyword"}}},
        "logwax": {"properties": {"source": {"type": "keyword"}, "stream": {"type": "keyword"}}},
        "tags": {"type": "keyword"},
    },
}


def index_prefix(pattern: str) -> str:
    """``logs-%Y.%m.%d`` → ``logs-``: what every index the pattern makes starts with."""
    return pattern.split("%", 1)[0]


def install(client: Elasticsearch, pattern: str) -> bool:
    """Install (or replace) the template named after the index prefix; False if refused.

    A refusal (say, another template with overlapping patterns at the same priority) is logged
    and counted, not fatal: indexing works without it, with dynamic mappings. A refused
    credential (401/403) raises: the caller waits for it to be fixed and installs then.
    """
    prefix = index_prefix(pattern)
    name = f"logwax-{prefix.strip('-_.') or 'all'}"
    try:
        client.indices.put_index_template(
            name=name,
            index_patterns=[f"{prefix}*"],
            template={"mappings": MAPPINGS},
            priority=100,
            meta={"managed_by": "logwax"},
        )
    except ApiError as exc:
        if exc.meta.status in (401, 403):
            raise
        log.warning("index template %s for %s* not installed: %s", name, prefix, exc)
        return False
    return True
