"""Session-wide real brokers and per-test topics and indices (see ``brokers.py`` for the order)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from devtools import kafka, process
from devtools.home import free_port, paths
from devtools.toxiproxy import Toxiproxy
from logwax.connectors.kafka.admin import delete_topics, ensure_topic
from logwax.core import health
from tests.integration.brokers import NO_DOCKER_ENV, Brokers, Cluster, brokers, cluster
from tests.integration.etcd_server import LocalEtcd
from tests.integration.flow_runs import kill_leftovers
from tests.integration.image_runs import remove_started
from tests.integration.secured_kafka import secured, secured_broker  # noqa: F401 (fixtures)
from tests.integration.sinks import TestSinks

REQUIRE_DOCKER_ENV = "LOGWAX_TEST_REQUIRE_DOCKER"


@pytest.fixture(autouse=True)
def _no_leftover_flows() -> Iterator[None]:
    """A failing test must not leave a logwax process running into the next one."""
    yield
    kill_leftovers()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


# Which backend served this run, for the closing summary (and the junit report's properties).
BACKEND: list[str] = []


@pytest.fixture(scope="session")
def servers(record_testsuite_property: Callable[[str, object], None]) -> Iterator[Brokers]:
    with brokers() as found:
        print(
            f"\nbrokers from {found.origin}: kafka={found.kafka_bootstrap} "
            f"elasticsearch={found.elasticsearch_url}"
        )
        record_testsuite_property("brokers", found.origin)
        BACKEND.append(found.origin)
        yield found


@pytest.fixture(autouse=True)
def _backend_in_report(
    request: pytest.FixtureRequest, record_property: Callable[[str, object], None]
) -> Iterator[None]:
    """Each test's junit entry names the brokers it ran against (if it used any)."""
    yield
    if BACKEND and "servers" in request.fixturenames:
        record_property("brokers", BACKEND[0])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if BACKEND:
        terminalreporter.write_line(f"integration brokers: {BACKEND[0]}")


@pytest.fixture(scope="session")
def kafka_config(servers: Brokers) -> dict[str, Any]:
    """librdkafka settings that reach the test broker."""
    return {"bootstrap.servers": servers.kafka_bootstrap}


@pytest.fixture(scope="session")
def es(servers: Brokers) -> Iterator[Elasticsearch]:
    client = Elasticsearch(servers.elasticsearch_url, request_timeout=30)
    yield client
    client.close()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def new_topic(kafka_config: dict[str, Any]) -> Iterator[Callable[..., str]]:
    """Factory of fresh topics, deleted after the test."""
    made: list[str] = []

    def make(partitions: int = 1) -> str:
        name = _unique("test")
        ensure_topic(kafka_config, name, partitions=partitions)
        made.append(name)
        return name

    yield make
    delete_topics(kafka_config, made)


@pytest.fixture
def new_index_prefix(es: Elasticsearch) -> Iterator[Callable[[], str]]:
    """Factory of fresh index-name prefixes; every index under them is deleted after the test."""
    made: list[str] = []

    def make() -> str:
        name = _unique("test")
        made.append(name)
        return name

    yield make
    for prefix in made:
        es.options(ignore_status=404).indices.delete(
            index=f"{prefix}*", expand_wildcards="all", allow_no_indices=True
        )


@pytest.fixture
def new_sinks(
    servers: Brokers,
    kafka_config: dict[str, Any],
    es: Elasticsearch,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> Callable[..., TestSinks]:
    """Factory of a fresh topic (with ``partitions``) and index prefix, bundled."""

    def make(partitions: int = 1) -> TestSinks:
        return TestSinks(
            servers, kafka_config, es, new_topic(partitions=partitions), new_index_prefix()
        )

    return make


@pytest.fixture(scope="session")
def product_image(servers: Brokers) -> str:
    """The repository's Dockerfile built on the local base image (cached by its inputs).

    Without an engine there is no honest way to run it: skipped, unless
    ``LOGWAX_TEST_REQUIRE_DOCKER`` is set (CI sets it), then failed.
    """
    from devtools import engine, images

    host = os.environ.get(engine.HOST_ENV) or engine.host_if_running()
    if host is None or os.environ.get(NO_DOCKER_ENV):
        if os.environ.get(REQUIRE_DOCKER_ENV):
            pytest.fail(f"{REQUIRE_DOCKER_ENV} is set but no Docker engine answers")
        pytest.skip("no Docker engine answers: 'python -m devtools docker up' as root")
    os.environ[engine.HOST_ENV] = host
    began = time.monotonic()
    images.build_base(host, paths(), print)
    tag = images.build_product(host, paths(), print)
    print(
        f"\nproduct image {tag}: {images.size_mb(host, tag):.0f} MB "
        f"(ready in {time.monotonic() - began:.0f}s)"
    )
    return tag


@pytest.fixture(autouse=True)
def _no_leftover_containers() -> Iterator[None]:
    """Every container a test started is removed by id, pass or fail."""
    yield
    remove_started()


@pytest.fixture(scope="session")
def kube() -> Cluster:
    found = cluster()
    print(f"\nkubernetes from kubeconfig {found.kubeconfig}")
    return found


@pytest.fixture
def kube_namespace(kube: Cluster) -> Iterator[str]:
    """A fresh namespace, deleted afterwards."""
    from kubernetes import client, config

    core = client.CoreV1Api(config.new_client_from_config(kube.kubeconfig))
    name = _unique("test")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.fixture
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEtcd]:
    server = LocalEtcd(tmp_path_factory.mktemp("etcd") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def toxiproxy() -> Iterator[Toxiproxy]:
    health.reset()
    health.configure(grace=1.0, hung_after=2.0)
    with Toxiproxy(paths()) as proxy:
        yield proxy
    health.reset()


@pytest.fixture
def proxied_kafka(toxiproxy: Toxiproxy, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A broker of this test's own whose clients are sent through the proxy by its advertised
    listener (a TCP proxy alone would only carry the bootstrap request); returns the proxied
    bootstrap for logwax and the direct one for the test's producer."""
    listen = free_port()
    proxy_port = toxiproxy.proxy("kafka", f"127.0.0.1:{listen}")
    server, _ = kafka.start(
        paths(), 384, home=tmp_path / "kafka", behind_proxy=(listen, proxy_port)
    )
    try:
        yield f"127.0.0.1:{proxy_port}", server.bootstrap
    finally:
        process.terminate(server.pid, "kafka.Kafka", grace=10)
