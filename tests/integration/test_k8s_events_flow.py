"""The events flow on a real API server while Events are being created: SIGKILLed at five
random moments, restarted each time; every Event version lands exactly once in Elasticsearch
and in Kafka (exactly-once mode, read_committed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from tests.integration.brokers import Brokers, Cluster
from tests.integration.flow_runs import (
    es_event_ids,
    kafka_event_ids,
    kill_at_random_moments,
    stop_gracefully,
    wait_delivered,
)
from tests.integration.kube_helpers import EventCreator, core_api
from tests.integration.pipelines import es_sink, events_source, kafka_sink, write_pipeline

TOTAL = 1500


def test_events_flow_survives_five_sigkills_exactly_once(
    tmp_path: Path,
    servers: Brokers,
    kube: Cluster,
    kube_namespace: str,
    es: Elasticsearch,
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> None:
    core = core_api(kube.kubeconfig)
    prefix, topic = new_index_prefix(), new_topic(partitions=2)
    config = write_pipeline(
        tmp_path,
        "events_test",
        snapshot_interval="500ms",
        file_name="events.yaml",
        flow="events",
        sources=[events_source(kube.kubeconfig, kube_namespace)],
        elasticsearch=es_sink(servers, prefix, "%Y.%m"),
        kafka=kafka_sink(servers, topic, exactly_once=True),
    )
    creator = EventCreator(core, kube_namespace, "e", TOTAL)
    creator.start()
    proc, delays = kill_at_random_moments(config, tmp_path, kills=5, seed=5, latest=1.5)
    creator.finished()
    log = tmp_path / "logwax.log"
    wait_delivered(proc, log, TOTAL, es=es, prefix=prefix, kafka_config=kafka_config, topic=topic)
    stop_gracefully(proc)

    listed = core.list_namespaced_event(kube_namespace).items
    expected = {f"{e.metadata.uid}:{e.metadata.resource_version}" for e in listed}
    in_es, in_kafka = es_event_ids(es, prefix), kafka_event_ids(kafka_config, topic)
    print(f"kills after {delays}s: es={sum(in_es.values())} kafka={sum(in_kafka.values())}")
    assert len(expected) == TOTAL
    assert set(in_es) == expected and max(in_es.values()) == 1
    assert set(in_kafka) == expected and max(in_kafka.values()) == 1
