"""How the integration suites get their real Kafka and Elasticsearch, in this order:

1. endpoints given in ``LOGWAX_TEST_KAFKA_BOOTSTRAP`` / ``LOGWAX_TEST_ELASTICSEARCH_URL``;
2. a Docker engine that answers (``DOCKER_HOST``, else the project's own engine from
   ``python -m devtools docker up``): testcontainers over the images built here
   (``containers.py``: Kafka in KRaft mode, Elasticsearch 8 security off, host network);
3. otherwise the same servers as local processes (``python -m devtools up``), started or reused,
   and one line says why.

No branch skips: if none can be had the fixtures raise and every integration test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import devtools

KAFKA_ENV = "LOGWAX_TEST_KAFKA_BOOTSTRAP"
ELASTICSEARCH_ENV = "LOGWAX_TEST_ELASTICSEARCH_URL"
NO_DOCKER_ENV = "LOGWAX_TEST_NO_DOCKER"
DEFAULT_HOST = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class Brokers:
    kafka_bootstrap: str
    elasticsearch_url: str
    origin: str
    # Freeze / thaw a server ("kafka" or "elasticsearch") to simulate an outage.
    freeze: Callable[[str], None] = lambda _name: _cannot_freeze()
    thaw: Callable[[str], None] = lambda _name: _cannot_freeze()


def _cannot_freeze() -> None:
    raise AssertionError("outage tests need brokers this suite started (not given by env)")


def _signal_local(name: str, signum: int) -> None:
    for row in devtools.status():
        if row.name == name and row.pid:
            os.kill(row.pid, signum)
            return
    raise AssertionError(f"no local {name} process to signal")


def docker_host() -> str | None:
    """The engine to use, or None with the reason printed once (then local processes)."""
    if os.environ.get(NO_DOCKER_ENV):
        print(f"[brokers] {NO_DOCKER_ENV} is set: local processes, not testcontainers")
        return None
    from devtools import engine

    host = os.environ.get(engine.HOST_ENV) or engine.host_if_running() or DEFAULT_HOST
    try:
        import docker

        docker.DockerClient(base_url=host, timeout=3).ping()
    except Exception as exc:
        print(
            "[brokers] no Docker engine answers (start one with 'python -m devtools docker up'"
            f" as root; {type(exc).__name__}): Kafka and Elasticsearch as local processes"
        )
        return None
    os.environ[engine.HOST_ENV] = host  # for testcontainers and the image tests
    return host


@contextlib.contextmanager
def _containers(host: str) -> Iterator[Brokers]:
    from tests.integration.containers import started

    with started(host, log=lambda line: print(f"[brokers] {line}")) as (kafka, elasticsearch):
        containers = {"kafka": kafka, "elasticsearch": elasticsearch}
        yield Brokers(
            kafka.bootstrap,
            elasticsearch.url,
            "testcontainers",
            freeze=lambda name: containers[name].get_wrapped_container().pause(),
            thaw=lambda name: containers[name].get_wrapped_container().unpause(),
        )


@contextlib.contextmanager
def brokers() -> Iterator[Brokers]:
    given_kafka, given_es = os.environ.get(KAFKA_ENV), os.environ.get(ELASTICSEARCH_ENV)
    if given_kafka and given_es:
        yield Brokers(given_kafka, given_es, "environment")
    elif (host := docker_host()) is not None:
        with _containers(host) as started:
            yield started
    else:
        endpoints = devtools.up(log=lambda line: print(f"[brokers] {line}"))
        yield Brokers(
            endpoints.kafka_bootstrap,
            endpoints.elasticsearch_url,
            "local processes",
            freeze=lambda name: _signal_local(name, signal.SIGSTOP),
            thaw=lambda name: _signal_local(name, signal.SIGCONT),
        )


KUBECONFIG_ENV = "LOGWAX_TEST_KUBECONFIG"
ETCD_ENV = "LOGWAX_TEST_ETCD_URL"


@dataclass(frozen=True)
class Cluster:
    """A real Kubernetes API server, and the etcd behind it (to force 410 Gone by compaction)."""

    kubeconfig: str
    etcd_url: str


def cluster() -> Cluster:
    """``LOGWAX_TEST_KUBECONFIG`` + ``LOGWAX_TEST_ETCD_URL``, else a local kube-apiserver."""
    given, etcd = os.environ.get(KUBECONFIG_ENV), os.environ.get(ETCD_ENV)
    if given and etcd:
        return Cluster(given, etcd)
    started = devtools.up_kubernetes(log=lambda line: print(f"[kubernetes] {line}"))
    return Cluster(started.kubeconfig, started.etcd_url)
