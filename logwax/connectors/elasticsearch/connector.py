"""The Elasticsearch sink as the registry sees it: batches spread over workers, then bulk."""

from __future__ import annotations

import bytewax.operators as op
from bytewax.dataflow import Stream

from logwax.connectors.descriptor import Chunk, SinkConnector, SinkWiring
from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.connectors.elasticsearch.health import probe
from logwax.connectors.elasticsearch.sink import ElasticsearchSink


def attach(records: Stream[Chunk], config: ElasticsearchSinkConfig, wiring: SinkWiring) -> None:
    batches = wiring.batch("batch_elasticsearch", records)
    unkeyed = op.map("unkey_elasticsearch", batches, lambda kv: kv[1])
    op.output("sink_elasticsearch", unkeyed, ElasticsearchSink(config))


SINK = SinkConnector(
    key="elasticsearch", config=ElasticsearchSinkConfig, attach=attach, probe=probe
)
