"""``logwax run`` on Kubernetes Events while they are being created: SIGKILLed, restarted."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

import yaml
from elasticsearch import Elasticsearch

from tests.integration.brokers import Brokers, Cluster
from tests.integration.flow_runs import es_count, es_event_ids, kill_and_restart_until, wait_for
from tests.integration.kube_helpers import core_api, create_event

TOTAL = 1500


def test_killed_events_flow_resumes_from_its_resource_version_without_loss(
    tmp_path: Path,
    servers: Brokers,
    kube: Cluster,
    kube_namespace: str,
    es: Elasticsearch,
    new_index_prefix: Callable[[], str],
) -> None:
    core = core_api(kube.kubeconfig)
    prefix = new_index_prefix()
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "events_test",
                "sources": [
                    {
                        "type": "kubernetes_events",
                        "name": "events",
                        "kubeconfig": kube.kubeconfig,
                        "namespaces": [kube_namespace],
                    }
                ],
                "elasticsearch": {"hosts": [servers.elasticsearch_url], "index": f"{prefix}-%Y.%m"},
                "recovery": {"directory": str(tmp_path / "recovery"), "snapshot_interval": "1s"},
            }
        )
    )
    creator = threading.Thread(
        target=lambda: [create_event(core, kube_namespace, f"e{i}") for i in range(TOTAL)]
    )
    creator.start()
    proc, at_kill = kill_and_restart_until(
        [200, 700], lambda: es_count(es, prefix), config, tmp_path
    )
    creator.join()
    wait_for(
        "every event",
        lambda: es_count(es, prefix) >= TOTAL,
        proc,
        tmp_path / "logwax.log",
        timeout=120,
    )
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0

    listed = core.list_namespaced_event(kube_namespace).items
    expected = {f"{e.metadata.uid}:{e.metadata.resource_version}" for e in listed}
    indexed = es_event_ids(es, prefix)
    print(f"documents indexed when killed: {at_kill}")
    assert len(expected) == TOTAL and max(at_kill) < TOTAL
    assert set(indexed) == expected and max(indexed.values()) == 1
