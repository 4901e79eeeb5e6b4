"""Network faults from a real proxy (Toxiproxy) between logwax and the real servers.

Each fault is held for a while, then lifted. Every record arrives once (Elasticsearch ``_id``
and the Events' ``uid:resourceVersion``), ``/readyz`` says 503 naming the sink or source while
it cannot deliver, the attempts stay bounded, and delivery resumes within 10 s of the end.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from elasticsearch import Elasticsearch
from prometheus_client import REGISTRY

from devtools.toxiproxy import Toxiproxy
from logwax.connectors.base import SourcePartition
from logwax.connectors.elasticsearch import ElasticsearchSink
from logwax.connectors.elasticsearch.config import ElasticsearchSinkConfig
from logwax.connectors.k8s_events import KubernetesEventsSource, KubernetesEventsSourceConfig
from logwax.connectors.kafka.admin import ensure_topic
from logwax.connectors.kafka.source import KafkaSource
from logwax.connectors.kafka.source_config import KafkaSourceConfig
from logwax.core.record import Record
from tests.integration.brokers import Brokers, Cluster
from tests.integration.faults import (
    FAULTS,
    QUIET,
    RESUME_WITHIN,
    ours,
    sink_errors,
    upstream,
)
from tests.integration.flow_runs import read_partition
from tests.integration.kube_helpers import core_api, create_event


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


def proxied_kubeconfig(kubeconfig: str, port: int, directory: Path) -> Path:
    """The same cluster and credentials, reached through the proxy (the CA names 127.0.0.1)."""
    document = json.loads(Path(kubeconfig).read_text())
    document["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = directory / "kubeconfig"
    path.write_text(json.dumps(document))
    return path


def source_retries(source: str) -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "logwax_source_retries":
            total += sum(
                s.value
                for s in metric.samples
                if s.name.endswith("_total") and s.labels.get("source") == source
            )
    return total


@dataclass
class FaultRun:
    got: list[Record]
    resumed_after: float
    attempts: float
    not_ready: list[str]


def read_through_fault(
    part: SourcePartition[Any],
    name: str,
    proxy: str,
    toxiproxy: Toxiproxy,
    fault: str,
    add: Callable[[str], None],
    first: int,
    expected: list[str],
) -> FaultRun:
    """Read ``first`` records, hold ``fault`` on ``proxy`` while ``add("during")`` writes more,
    lift it, ``add("after")``, and read until every expected record came or time ran out."""
    apply, lift, held = FAULTS[fault]
    try:
        got = read_partition(part, first, 30)
        retries_before = source_retries(name)
        apply(toxiproxy, proxy)
        add("during")
        not_ready: list[str] = []
        ends = time.monotonic() + held
        while time.monotonic() < ends:
            got.extend(part.next_batch())
            not_ready = not_ready or ours(f"source {name}")
            time.sleep(0.1)
        lift(toxiproxy, proxy)
        lifted = time.monotonic()
        add("after")
        while len(got) < len(expected) and time.monotonic() - lifted < RESUME_WITHIN + 20:
            got.extend(part.next_batch())
            time.sleep(0.05)
        resumed_after = time.monotonic() - lifted
        got.extend(read_partition(part, 10**9, 1.5))
        attempts = source_retries(name) - retries_before
    finally:
        part.close()
    return FaultRun(got, resumed_after, attempts, not_ready)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_events_source_through_a_faulty_network(
    fault: str, toxiproxy: Toxiproxy, kube: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    held = FAULTS[fault][2]
    document = json.loads(Path(kube.kubeconfig).read_text())
    port = toxiproxy.proxy("kube", upstream(document["clusters"][0]["cluster"]["server"]))
    name = f"events-{fault}"
    settings = KubernetesEventsSourceConfig(
        type="kubernetes_events",
        name=name,
        kubeconfig=proxied_kubeconfig(kube.kubeconfig, port, tmp_path),
        namespaces=[kube_namespace],
        watch_timeout="5s",
    )
    core = core_api(kube.kubeconfig)  # the test's own writes go around the proxy
    expected = []

    def create(prefix: str, count: int) -> None:
        for i in range(count):
            create_event(core, kube_namespace, f"{prefix}{i}")
            expected.append(f"{prefix}{i} happened")

    create("before", 5)
    part = KubernetesEventsSource(settings).build_part("s", name, None)
    run = read_through_fault(
        part, name, "kube", toxiproxy, fault, lambda p: create(p, 5), 5, expected
    )
    got, resumed_after, attempts, not_ready = (
        run.got,
        run.resumed_after,
        run.attempts,
        run.not_ready,
    )
    print(f"\n{fault}: all Events {resumed_after:.1f}s after the fault, {attempts:.0f} retries")
    assert sorted(r.message for r in got) == sorted(expected)
    assert len({r.event_id for r in got}) == len(got)
    assert resumed_after < RESUME_WITHIN
    assert attempts <= max(6.0, held / 60 * 20)  # no hot loop
    if fault == "down_30s":
        assert not_ready, "/readyz never said the source was failing"


@pytest.mark.parametrize("fault", list(FAULTS))
def test_kafka_source_through_a_faulty_network(
    fault: str, toxiproxy: Toxiproxy, proxied_kafka: tuple[str, str]
) -> None:
    held = FAULTS[fault][2]
    through_proxy, direct = proxied_kafka
    topic = "faults"
    ensure_topic({"bootstrap.servers": direct}, topic, partitions=2)
    producer = Producer({"bootstrap.servers": direct, "logger": QUIET})
    expected: list[str] = []

    def produce(prefix: str, count: int) -> None:
        for i in range(count):
            producer.produce(topic, json.dumps({"message": f"{prefix} {i}"}).encode())
            expected.append(f"{prefix} {i}")
        producer.flush(10)

    name = f"kafka-{fault}"
    config = KafkaSourceConfig(bootstrap_servers=through_proxy, topics=[topic])
    part = KafkaSource(config, name=name).build_part("s", "shard-0", None)
    produce("before", 50)
    run = read_through_fault(
        part, name, "kafka", toxiproxy, fault, lambda p: produce(p, 50), 50, expected
    )
    got, resumed_after, attempts, not_ready = (
        run.got,
        run.resumed_after,
        run.attempts,
        run.not_ready,
    )
    print(f"\n{fault}: all records {resumed_after:.1f}s after the fault, {attempts:.0f} errors")
    assert sorted(r.message for r in got) == sorted(expected)
    assert len({r.event_id for r in got}) == len(got)
    assert resumed_after < RESUME_WITHIN
    assert attempts <= max(10.0, held * 3)  # librdkafka reconnects ~2/s: no hot loop
    if fault == "down_30s":
        assert not_ready, "/readyz never said the source was failing"
