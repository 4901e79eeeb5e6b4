"""``logwax check`` for the Elasticsearch sink: does the cluster answer, and how healthy is it."""

from __future__ import annotations

from elastic_transport import TlsError
from elasticsearch import ApiError

from logwax.connectors.elasticsearch import refusal
from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.core.errors import LogwaxError


def probe(config: ElasticsearchSinkConfig) -> str:
    """One try, no retries: a refused credential or certificate is said in one line."""
    client = config.client().options(max_retries=0)
    try:
        health = client.cluster.health(timeout="5s")
    except ApiError as exc:
        if exc.meta.status in (401, 403):
            line = refusal.explain(config.hosts, exc.meta.status, exc.body, None)
            raise LogwaxError(line) from None
        raise
    except TlsError as exc:
        raise LogwaxError(refusal.explain_transport(config.hosts, exc)) from None
    finally:
        client.close()
    return f"{config.hosts[0]}: cluster {health['cluster_name']} is {health['status']}"
