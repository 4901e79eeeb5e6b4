"""Pipeline files for the integration tests, written one way.

A test says what is particular to it (its sources, its topic and index, a batch or recovery
setting) and gets a file ``logwax run`` reads; everything else (recovery under the test's own
directory, the brokers the session found) is filled in here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.integration.brokers import Brokers


def files_source(tmp_path: Path, name: str = "app", **settings: Any) -> dict[str, Any]:
    """A files source over ``<tmp_path>/logs/*.log`` unless ``include`` says otherwise."""
    return {"type": "files", "name": name, "include": [f"{tmp_path}/logs/*.log"], **settings}


def kafka_sink(servers: Brokers, topic: str, **settings: Any) -> dict[str, Any]:
    return {"bootstrap_servers": servers.kafka_bootstrap, "topic": topic, **settings}


def es_sink(servers: Brokers, prefix: str, pattern: str = "%Y", **settings: Any) -> dict[str, Any]:
    """Indices ``<prefix>-<pattern>``, so the test's ``<prefix>-*`` finds all of them."""
    return {"hosts": [servers.elasticsearch_url], "index": f"{prefix}-{pattern}", **settings}


def write_pipeline(
    tmp_path: Path,
    name: str,
    *,
    snapshot_interval: str = "1s",
    file_name: str = "pipeline.yaml",
    **sections: Any,
) -> Path:
    """Write ``<tmp_path>/<file_name>`` with these sections; those given as None are left out."""
    document: dict[str, Any] = {"name": name}
    document.update({key: value for key, value in sections.items() if value is not None})
    document.setdefault(
        "recovery",
        {"directory": str(tmp_path / "recovery"), "snapshot_interval": snapshot_interval},
    )
    path = tmp_path / file_name
    path.write_text(yaml.safe_dump(document))
    return path


def write_numbered_lines(
    directory: Path, files: int, lines: int, text: str = "file={f} line={i} {pad}", mode: str = "a"
) -> set[str]:
    """``files`` log files ``app<f>.log`` of ``lines`` lines each; returns every line written.

    ``text`` is formatted with the file number ``f``, the line number ``i`` and ``pad`` (150
    characters, so records are of a realistic size).
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = set()
    for f in range(files):
        with open(directory / f"app{f}.log", mode) as out:
            for i in range(lines):
                line = text.format(f=f, i=i, pad="p" * 150)
                out.write(line + "\n")
                written.add(line)
    return written


def events_source(
    kubeconfig: str, namespace: str, name: str = "events", **settings: Any
) -> dict[str, Any]:
    """A Kubernetes Events source watching one namespace of the test's API server."""
    return {
        "type": "kubernetes_events",
        "name": name,
        "kubeconfig": kubeconfig,
        "namespaces": [namespace],
        **settings,
    }
