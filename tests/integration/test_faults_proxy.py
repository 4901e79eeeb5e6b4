"""Network faults from a real proxy (Toxiproxy) between logwax and the real servers.

Each fault is held for a while, then lifted. Every record arrives once (Elasticsearch ``_id``
and the Events' ``uid:resourceVersion``), ``/readyz`` says 503 naming the sink or source while
it cannot deliver, the attempts stay bounded, and delivery resumes within 10 s of the end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from elasticsearch import Elasticsearch
from prometheus_client import REGISTRY

from devtools import paths
from devtools.toxiproxy import Toxiproxy
from logwax.connectors.elasticsearch import ElasticsearchSink
from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.core import health, observability
from logwax.core.record import Record
from tests.integration.brokers import Brokers

RESUME_WITHIN = 10.0


@pytest.fixture
def toxiproxy() -> Iterator[Toxiproxy]:
    health.reset()
    health.configure(grace=1.0, hung_after=2.0)
    with Toxiproxy(paths()) as proxy:
        yield proxy
    health.reset()


def upstream(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.hostname}:{parsed.port}"


def ours(name: str) -> list[str]:
    return [p for p in observability.readiness(3600) if name in p]


def sink_errors(sink: str) -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "logwax_sink_errors":
            total += sum(
                s.value
                for s in metric.samples
                if s.name.endswith("_total") and s.labels.get("sink") == sink
            )
    return total


# fault name -> (apply, lift, seconds held)
Fault = tuple[Callable[[Toxiproxy, str], Any], Callable[[Toxiproxy, str], None], float]
FAULTS: dict[str, Fault] = {
    "latency": (
        lambda t, p: t.toxic(p, "latency", {"latency": 3000}),
        lambda t, p: t.remove(p, "latency_downstream"),
        6.0,
    ),
    "reset_mid_stream": (
        lambda t, p: t.toxic(p, "reset_peer", {"timeout": 300}),
        lambda t, p: t.remove(p, "reset_peer_downstream"),
        6.0,
    ),
    "timeout": (
        lambda t, p: t.toxic(p, "timeout", {"timeout": 4000}),
        lambda t, p: t.remove(p, "timeout_downstream"),
        8.0,
    ),
    "bandwidth": (
        lambda t, p: t.toxic(p, "bandwidth", {"rate": 4}, stream="upstream"),
        lambda t, p: t.remove(p, "bandwidth_upstream"),
        6.0,
    ),
    "down_30s": (
        lambda t, p: t.enabled(p, False),
        lambda t, p: t.enabled(p, True),
        30.0,
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_elasticsearch_sink_through_a_faulty_network(
    fault: str,
    toxiproxy: Toxiproxy,
    servers: Brokers,
    es: Elasticsearch,
    new_index_prefix: Callable[[], str],
) -> None:
    apply, lift, held = FAULTS[fault]
    port = toxiproxy.proxy("es", upstream(servers.elasticsearch_url))
    index = new_index_prefix()
    sink = f"es-{fault}"
    config = ElasticsearchSinkConfig(
        hosts=[f"http://127.0.0.1:{port}"], index=index, request_timeout="20s"
    )
    part = ElasticsearchSink(config, name=sink).build("sink", 0, 1)

    def batch(prefix: str, count: int) -> list[Record]:
        return [
            Record("t", "s", f"{prefix}-{i}", 0, f"{prefix} {i} " + "x" * 200, {})
            for i in range(count)
        ]

    part.write_batch([batch("before", 50)])
    errors_before = sink_errors(sink)
    apply(toxiproxy, "es")
    done = threading.Event()
    writer = threading.Thread(
        target=lambda: (part.write_batch([batch("during", 100)]), done.set()), daemon=True
    )
    writer.start()
    not_ready: list[str] = []
    ends = time.monotonic() + held
    while time.monotonic() < ends:
        not_ready = not_ready or ours(sink)
        time.sleep(0.2)
    lift(toxiproxy, "es")
    lifted = time.monotonic()
    assert done.wait(RESUME_WITHIN + 20), "the sink never delivered after the fault"
    resumed_after = time.monotonic() - lifted
    part.write_batch([batch("after", 50)])
    es.indices.refresh(index=f"{index}*")
    count = int(es.count(index=f"{index}*")["count"])
    attempts = sink_errors(sink) - errors_before
    print(
        f"\n{fault}: resumed {resumed_after:.1f}s after the fault, {attempts:.0f} failed attempts"
    )
    assert count == 200  # each once: 50 before, 100 during, 50 after
    assert resumed_after < RESUME_WITHIN
    assert attempts <= max(4.0, held / 60 * 30)  # no hot loop
    if fault != "bandwidth":  # a slow link that still delivers in time is not a failure
        assert not_ready, "/readyz never said the sink was failing"
