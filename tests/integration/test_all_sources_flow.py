"""One pipeline file naming all three sources, run with ``logwax run``, into both sinks."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from logwax.app import cli
from tests.integration.brokers import Brokers, Cluster
from tests.integration.flow_runs import es_count, start, stop_gracefully, wait_for
from tests.integration.journal_files import append_entries
from tests.integration.kafka_helpers import read_all
from tests.integration.kube_helpers import core_api, create_event
from tests.integration.pipelines import (
    es_sink,
    events_source,
    files_source,
    kafka_sink,
    write_pipeline,
)


def test_files_journald_and_kubernetes_events_in_one_run(
    tmp_path: Path,
    servers: Brokers,
    kube: Cluster,
    kube_namespace: str,
    kafka_config: dict[str, Any],
    es: Elasticsearch,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("".join(f"app line {i}\n" for i in range(300)))
    append_entries(tmp_path / "journal" / "system.journal", 0, 200)
    core = core_api(kube.kubeconfig)
    for i in range(50):
        create_event(core, kube_namespace, f"ev{i}")
    topic, prefix = new_topic(), new_index_prefix()
    config = write_pipeline(
        tmp_path,
        "everything",
        sources=[
            files_source(tmp_path),
            {"type": "journald", "name": "node", "directory": str(tmp_path / "journal")},
            events_source(kube.kubeconfig, kube_namespace),
        ],
        kafka=kafka_sink(servers, topic),
        elasticsearch=es_sink(servers, prefix),
    )
    assert cli.main(["validate", "-c", str(config)]) == 0

    proc = start(config, tmp_path)
    wait_for("all records", lambda: es_count(es, prefix) >= 550, proc, tmp_path / "logwax.log")
    stop_gracefully(proc)

    by_source = Counter(
        json.loads(m.value())["logwax"]["source"] for m in read_all(kafka_config, topic)
    )
    assert by_source == {"app": 300, "node": 200, "events": 50}
    assert es_count(es, prefix) == 550
