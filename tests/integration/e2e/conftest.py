"""The one-node cluster and the images its pods run, for the end-to-end tests (``make e2e``).

They start a real kubelet, containerd and control plane (about ten seconds warm, a few minutes
the first time, when the binaries are built), so they run only when ``LOGWAX_E2E`` is set and are
skipped otherwise, with that reason; ``make test`` leaves them out. A node this session started
is stopped again at its end, by pid (``python -m devtools k8s down``); one that was already up is
reused and left up.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

E2E_ENV = "LOGWAX_E2E"
IMAGES = ["logwax:dev", "logwax-base:bookworm"]


@dataclass(frozen=True)
class Node:
    kubeconfig: str
    api_port: int
    started_in_s: float


@pytest.fixture(scope="session")
def node() -> Iterator[Node]:
    if not os.environ.get(E2E_ENV):
        pytest.skip(
            f"end-to-end tests start a Kubernetes node: run them with 'make e2e' ({E2E_ENV}=1)"
        )
    # Asked for by name (make e2e, CI): a node that cannot start is a failure, not a skip that
    # would count as passing.
    if os.geteuid() != 0:
        pytest.fail("kubelet and containerd need root: the node cannot start here")
    for binary in ("containerd", "runc", "ctr"):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} is missing: apt-get install containerd runc")
    from devtools.node import cluster
    from devtools.node.layout import node_paths
    from tests.integration.e2e import leftovers

    was_up = cluster.is_up(node_paths(), cluster.read_state(node_paths()))
    state = cluster.up()
    port = int(state["url"].rsplit(":", 1)[1])
    how = "reused" if was_up else ("cold" if state.get("cold") else "warm")
    print(f"\nnode: {how}; start took {state.get('start_total_s')}s")
    try:
        yield Node(state["kubeconfig"], port, float(state.get("start_total_s") or 0))
    finally:
        if not was_up:
            cluster.down()
            # Nothing of the node may outlive the suite: its processes by the pids it recorded,
            # and any process left in a pod's cgroup (a container, a pause).
            still = leftovers.alive(state["pids"])
            in_pods = leftovers.pod_processes()
            print(f"after the node stopped: recorded pids alive {still}, pod processes {in_pods}")
            assert not still and not in_pods, (still, in_pods)


@pytest.fixture(scope="session")
def node_images(node: Node) -> Iterator[list[str]]:
    """logwax and logwax-base built on the project's engine and imported into containerd; an
    engine this fixture started is stopped again."""
    from devtools import engine, images
    from devtools.home import paths
    from devtools.node import images as node_images_

    started_here = engine.host_if_running() is None
    where = engine.up()
    if where is None:
        pytest.fail("no Docker engine to build the images: 'python -m devtools docker up' as root")
    try:
        images.build_base(where.host, paths(), print)
        images.build_product(where.host, paths(), print)
        node_images_.load(where.host, IMAGES)
    finally:
        if started_here:
            engine.down()
    yield IMAGES
