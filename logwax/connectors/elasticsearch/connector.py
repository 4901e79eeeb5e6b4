"""The Elasticsearch sink as the registry sees it: batches spread over workers, then bulk."""

from __future__ import annotations

import bytewax.operators as op
from bytewax.dataflow import Stream

from logwax.connectors.descriptor import Chunk, SinkConnector, SinkWiring
from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig


def attach(records: Stream[Chunk], config: ElasticsearchSinkConfig, wiring: SinkWiring) -> None:
    # The sink (and the client under it) is imported by the flows that index, not by every
    # flow that reads this table (see ``ElasticsearchSinkConfig.client``).
    from logwax.connectors.elasticsearch.sink import ElasticsearchSink

    batches = wiring.batch("batch_elasticsearch", records)
    unkeyed = op.map("unkey_elasticsearch", batches, lambda kv: kv[1])
    op.output("sink_elasticsearch", unkeyed, ElasticsearchSink(config))


def probe(config: ElasticsearchSinkConfig) -> str:
    from logwax.connectors.elasticsearch.health import probe as cluster_health

    return cluster_health(config)


SINK = SinkConnector(
    key="elasticsearch", config=ElasticsearchSinkConfig, attach=attach, probe=probe
)
