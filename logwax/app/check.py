"""``logwax check``: connect to every configured source and sink and say what works.

Each check is small and independent, so one unreachable system does not hide the state of the
others, and each failure carries the reason, ready to act on.
"""

from __future__ import annotations

import functools
import glob
import subprocess
from collections.abc import Callable
from typing import Any

from logwax.settings import PipelineConfig

Check = tuple[str, Callable[[], str]]


def _files(config: Any) -> str:
    matched = sorted({p for pattern in config.include for p in glob.glob(pattern, recursive=True)})
    unreadable = []
    for path in matched:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            unreadable.append(f"{path} ({exc.strerror})")
    if unreadable:
        raise RuntimeError(f"cannot read {', '.join(unreadable[:5])}")
    return f"{len(matched)} files match {config.include}"


def _journald(config: Any) -> str:
    args = [config.journalctl, "--lines=1", "--quiet", "--no-pager", "--output=cat"]
    if config.directory is not None:
        args.append(f"--directory={config.directory}")
    result = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"journalctl exited {result.returncode}")
    return f"journal readable{f' at {config.directory}' if config.directory else ''}"


def _kubernetes(config: Any) -> str:
    from kubernetes import client

    from logwax.connectors.k8s_events.watcher import api_client

    core = client.CoreV1Api(api_client(config))
    if len(config.namespaces) == 1:
        core.list_namespaced_event(config.namespaces[0], limit=1)
    else:
        core.list_event_for_all_namespaces(limit=1)
    return "events can be listed"


def _kafka_topics(bootstrap: str, options: dict[str, Any], topics: list[str]) -> str:
    from confluent_kafka import Consumer

    consumer = Consumer({**options, "bootstrap.servers": bootstrap, "group.id": "logwax-check"})
    try:
        metadata = consumer.list_topics(timeout=10)
    finally:
        consumer.close()
    missing = [t for t in topics if t not in metadata.topics or metadata.topics[t].error]
    if missing:
        raise RuntimeError(f"topics missing at {bootstrap}: {', '.join(missing)}")
    counts = ", ".join(f"{t} ({len(metadata.topics[t].partitions)} partitions)" for t in topics)
    return f"{bootstrap}: {counts}"


def _elasticsearch(config: Any) -> str:
    client = config.client()
    try:
        health = client.cluster.health(timeout="5s")
    finally:
        client.close()
    return f"{config.hosts[0]}: cluster {health['cluster_name']} is {health['status']}"


def checks(config: PipelineConfig) -> list[Check]:
    found: list[Check] = []
    probes: dict[str, Callable[[Any], str]] = {
        "files": _files,
        "journald": _journald,
        "kubernetes_events": _kubernetes,
    }
    for source in config.sources:
        found.append(
            (
                f"source {source.name} ({source.type})",
                functools.partial(probes[source.type], source),
            )
        )
    if config.kafka_input is not None:
        given = config.kafka_input
        found.append(
            (
                "source kafka_input",
                lambda: _kafka_topics(
                    given.bootstrap_servers, given.security.client_options(), given.topics
                ),
            )
        )
    if config.kafka is not None:
        sink = config.kafka
        found.append(
            (
                "sink kafka",
                lambda: _kafka_topics(
                    sink.bootstrap_servers, sink.security.client_options(), [sink.topic]
                ),
            )
        )
    if config.elasticsearch is not None:
        es = config.elasticsearch
        found.append(("sink elasticsearch", lambda: _elasticsearch(es)))
    return found


def run_checks(config: PipelineConfig, out: Callable[[str], None] = print) -> bool:
    healthy = True
    for name, probe in checks(config):
        try:
            out(f"ok    {name}: {probe()}")
        except Exception as exc:
            healthy = False
            out(f"FAIL  {name}: {type(exc).__name__}: {exc}")
    return healthy
