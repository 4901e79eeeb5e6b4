"""How the integration suites get their real Kafka and Elasticsearch, in this order:

1. endpoints given in ``LOGWAX_TEST_KAFKA_BOOTSTRAP`` / ``LOGWAX_TEST_ELASTICSEARCH_URL``;
2. a reachable Docker engine: testcontainers (Kafka in KRaft mode, Elasticsearch 8 security off);
3. otherwise the same servers as local processes (``logwax dev up``), started or reused.

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
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
ELASTICSEARCH_IMAGE = "docker.elastic.co/elasticsearch/elasticsearch:8.19.7"


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


def docker_available() -> bool:
    if os.environ.get("LOGWAX_TEST_NO_DOCKER"):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def _containers() -> Iterator[Brokers]:
    try:  # testcontainers >= 4.14 moved the modules under .community
        from testcontainers.community.elasticsearch import ElasticSearchContainer
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:
        from testcontainers.elasticsearch import ElasticSearchContainer
        from testcontainers.kafka import KafkaContainer

    kafka = (
        KafkaContainer(KAFKA_IMAGE)
        .with_kraft()
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
    )
    elasticsearch = ElasticSearchContainer(ELASTICSEARCH_IMAGE, mem_limit="2G").with_env(
        "ES_JAVA_OPTS", "-Xms512m -Xmx512m"
    )
    with kafka, elasticsearch:
        host = elasticsearch.get_container_host_ip()
        port = elasticsearch.get_exposed_port(9200)
        containers = {"kafka": kafka, "elasticsearch": elasticsearch}
        yield Brokers(
            kafka.get_bootstrap_server(),
            f"http://{host}:{port}",
            "testcontainers",
            freeze=lambda name: containers[name].get_wrapped_container().pause(),
            thaw=lambda name: containers[name].get_wrapped_container().unpause(),
        )


@contextlib.contextmanager
def brokers() -> Iterator[Brokers]:
    given_kafka, given_es = os.environ.get(KAFKA_ENV), os.environ.get(ELASTICSEARCH_ENV)
    if given_kafka and given_es:
        yield Brokers(given_kafka, given_es, "environment")
    elif docker_available():
        with _containers() as started:
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
