"""Local real Kafka and Elasticsearch for the demo and the integration tests, without Docker.

``up`` reuses servers that are still running and ready, so ``make demo`` and ``make test`` can be
run again and again without paying the start-up twice; ``down`` stops them and removes their data
but keeps the downloads.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from devtools import elasticsearch, kafka, kubernetes, process
from devtools.home import DevPaths, exclusive, paths, pid_alive, read_state, write_state


@dataclass(frozen=True)
class Endpoints:
    """What clients need to reach the local servers."""

    kafka_bootstrap: str
    elasticsearch_url: str


@dataclass(frozen=True)
class ServerStatus:
    name: str
    endpoint: str | None
    pid: int | None
    running: bool
    rss_mb: float | None
    started_in_s: float | None


# Each server's name in the state file and the key of its endpoint there.
SERVERS = {"kafka": "bootstrap", "elasticsearch": "url", "kubernetes": "url"}


class _Server(Protocol):
    @property
    def pid(self) -> int: ...

    def to_state(self) -> dict[str, object]: ...


Log = Callable[[str], None]


def _heap(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def up(log: Log = print) -> Endpoints:
    """Start whatever is not already running and ready; returns the endpoints of both servers."""
    dev = paths()
    with exclusive(dev):
        state = read_state(dev)
        state["kafka"] = _ensure(
            dev,
            "kafka",
            state.get("kafka"),
            "Kafka",
            "bootstrap",
            kafka.is_ready,
            lambda: kafka.start(dev, _heap("LOGWAX_DEV_KAFKA_HEAP_MB", 512)),
            log,
        )
        write_state(dev, state)  # before the next start, so a failure there orphans nothing
        state["elasticsearch"] = _ensure(
            dev,
            "elasticsearch",
            state.get("elasticsearch"),
            "Elasticsearch",
            "url",
            elasticsearch.is_ready,
            lambda: elasticsearch.start(dev, _heap("LOGWAX_DEV_ES_HEAP_MB", 512)),
            log,
        )
        write_state(dev, state)
    return Endpoints(state["kafka"]["bootstrap"], state["elasticsearch"]["url"])


def _ensure(
    dev: DevPaths,
    kind: str,
    known: dict[str, Any] | None,
    name: str,
    endpoint_key: str,
    is_ready: Callable[[str], bool],
    start: Callable[[], tuple[_Server, float]],
    log: Log,
) -> dict[str, Any]:
    if known and pid_alive(known.get("pid")) and is_ready(known[endpoint_key]):
        log(f"{name}: reusing {known[endpoint_key]} (pid {known['pid']})")
        return known
    if known:
        _stop(kind, known)
    log(f"{name}: starting (downloads are cached under {dev.cache}) ...")
    began = time.monotonic()
    server, waited = start()
    total = time.monotonic() - began
    entry: dict[str, Any] = {
        **server.to_state(),
        "ready_after_s": round(waited, 1),
        "start_total_s": round(total, 1),
    }
    log(f"{name}: ready at {entry[endpoint_key]} (pid {server.pid}) in {total:.1f}s")
    return entry


@dataclass(frozen=True)
class KubernetesEndpoints:
    url: str
    kubeconfig: str
    etcd_url: str


def up_kubernetes(log: Log = print) -> KubernetesEndpoints:
    """Start (building once) a real kube-apiserver with its own etcd."""
    dev = paths()
    with exclusive(dev):
        state = read_state(dev)
        known: dict[str, Any] = state.get("kubernetes") or {}
        state["kubernetes"] = _ensure(
            dev,
            "kubernetes",
            known,
            "Kubernetes API",
            "url",
            lambda url: kubernetes.is_ready(url, known.get("kubeconfig", "")),
            lambda: kubernetes.start(dev),
            log,
        )
        write_state(dev, state)
    entry = state["kubernetes"]
    return KubernetesEndpoints(entry["url"], entry["kubeconfig"], entry["etcd_url"])


# What each server's command line names, so a recycled pid is never signalled.
PROGRAMS = {
    "kafka": "kafka.Kafka",
    "elasticsearch": "org.elasticsearch",
    "kubernetes": "kube-apiserver",
}


def _stop(name: str, entry: dict[str, Any]) -> None:
    process.terminate(entry.get("pid"), PROGRAMS[name])
    process.terminate(entry.get("etcd_pid"), "etcd")


def down(log: Log = print) -> None:
    dev = paths()
    with exclusive(dev):
        state = read_state(dev)
        for name in SERVERS:
            entry = state.get(name)
            if entry:
                _stop(name, entry)
                log(f"{name}: stopped (pid {entry.get('pid')})")
        shutil.rmtree(dev.run, ignore_errors=True)


def status() -> list[ServerStatus]:
    dev = paths()
    state = read_state(dev)
    rows = []
    for name, key in SERVERS.items():
        entry = state.get(name) or {}
        pid = entry.get("pid")
        rows.append(
            ServerStatus(
                name=name,
                endpoint=entry.get(key),
                pid=pid,
                running=pid_alive(pid),
                rss_mb=process.rss_mb(pid),
                started_in_s=entry.get("start_total_s"),
            )
        )
    return rows


def endpoints_if_running() -> Endpoints | None:
    """The endpoints of servers that are up right now, without starting anything."""
    state = read_state(paths())
    kafka_entry, es_entry = state.get("kafka"), state.get("elasticsearch")
    if not (kafka_entry and es_entry):
        return None
    if not (pid_alive(kafka_entry.get("pid")) and pid_alive(es_entry.get("pid"))):
        return None
    return Endpoints(kafka_entry["bootstrap"], es_entry["url"])
