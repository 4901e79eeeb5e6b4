"""The API server stopped mid-run and started again, and a watch resumed from a compacted
version (410 Gone): reading goes on from the cache and the cache catches up afterwards.

These run against an API server and etcd of their own (see ``private_apiserver``), because
stopping the shared one would fail other suites running at the same time."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from prometheus_client import REGISTRY

from tests.integration.kube_helpers import compact_etcd
from tests.integration.kube_pods import (
    api,
    append,
    files_partition,
    log_path,
    make_pod,
    messages,
    prepare_namespace,
    read_until,
    shared_cache,
    wait_for,
)
from tests.integration.private_apiserver import PrivateApiserver, private_apiserver


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateApiserver]:
    with private_apiserver(tmp_path_factory.mktemp("apiserver")) as server:
        yield server


def restarts(resource: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "logwax_kubernetes_metadata_watch_restarts_total", {"resource": resource, "reason": reason}
    )
    return value or 0.0


def _namespace(core: client.CoreV1Api) -> str:
    name = f"outage-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    prepare_namespace(core, name, {"team": "a"})
    return name


def test_api_server_stopped_and_restarted(own_server: PrivateApiserver, tmp_path: Path) -> None:
    kubeconfig, node = own_server.kubeconfig, "node-outage"
    core = client.CoreV1Api(api(kubeconfig))
    ns = _namespace(core)
    cached = make_pod(core, ns, "cached", node, {"app": "cached", "release": "v1"})
    settings = {"metadata_wait": "1s", "reconnect_backoff_max": "1s"}
    failures = restarts("pods", "connection")
    with shared_cache(kubeconfig, node, **settings) as cache:
        partition = files_partition(tmp_path, kubeconfig, node, **settings)
        try:
            append(log_path(tmp_path, ns, "cached", cached), ["up 1"])
            read_until(partition, messages({"up 1"}))

            own_server.stop()
            wait_for("watch failure seen", lambda: restarts("pods", "connection") > failures)
            # While the API is down: a cached pod's lines flow at once, an unknown pod's after
            # metadata_wait, flagged; nothing is lost.
            stranger = str(uuid.uuid4())
            append(log_path(tmp_path, ns, "cached", cached), ["down 1"])
            append(log_path(tmp_path, ns, "stranger", stranger), ["down 2"])
            began = time.monotonic()
            down = read_until(partition, messages({"down 1"}))
            cached_after = time.monotonic() - began
            down += read_until(partition, messages({"down 2"}))
            stranger_after = time.monotonic() - began

            own_server.restart()
            later = api(kubeconfig)
            core = client.CoreV1Api(later)
            core.patch_namespaced_pod("cached", ns, {"metadata": {"labels": {"release": "v2"}}})
            newcomer = make_pod(core, ns, "newcomer", node, {"app": "newcomer"})

            def caught_up() -> bool:
                pod = cache.pods.find(cached, ns, "cached")
                return pod is not None and pod.labels["release"] == "v2"

            wait_for("cache caught up", caught_up, timeout=60)
            append(log_path(tmp_path, ns, "cached", cached), ["back 1"])
            append(log_path(tmp_path, ns, "newcomer", newcomer), ["back 2"])
            back = read_until(partition, messages({"back 1", "back 2"}))
        finally:
            partition.close()

    fields = {r.message: r.fields["kubernetes"] for r in down + back}
    assert cached_after < 1.0, cached_after
    assert fields["down 1"]["labels"] == {"app": "cached", "release": "v1"}
    assert 0.9 <= stranger_after < 3.0, stranger_after
    assert fields["down 2"]["metadata_missing"] is True
    assert fields["back 1"]["labels"]["release"] == "v2"
    assert fields["back 2"]["labels"] == {"app": "newcomer"}
    assert "metadata_missing" not in fields["back 2"]


def test_a_watch_resumed_from_a_compacted_version_lists_again(
    own_server: PrivateApiserver, tmp_path: Path
) -> None:
    # Without its watch cache the server answers a resume from a compacted version with 410
    # Gone (with it, from memory, the window is long and hard to outrun in a test).
    own_server.stop()
    own_server.restart("--watch-cache=false")
    kubeconfig, node = own_server.kubeconfig, "node-gone"
    core = client.CoreV1Api(api(kubeconfig))
    ns = _namespace(core)
    first = make_pod(core, ns, "first", node, {"app": "first"})
    gone = restarts("pods", "gone")
    with shared_cache(kubeconfig, node, watch_timeout="2s") as cache:
        wait_for("first cached", lambda: cache.pods.find(first, ns, "first") is not None)
        # History moves on past the cache's version (writes elsewhere), then is compacted: the
        # next resume of the watch is answered 410 Gone.
        for i in range(3):
            core.create_namespaced_config_map(ns, {"metadata": {"name": f"noise-{i}"}})
        compact_etcd(own_server.etcd_url)
        wait_for("410 seen", lambda: restarts("pods", "gone") > gone, timeout=30)
        second = make_pod(core, ns, "second", node, {"app": "second"})
        wait_for("second cached", lambda: cache.pods.find(second, ns, "second") is not None)
        assert cache.pods.find(first, ns, "first") is not None
