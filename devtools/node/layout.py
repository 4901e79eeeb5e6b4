"""Where the one-node cluster keeps what.

``run`` holds everything of one cluster's life (configs, sockets, kubelet's root, containerd's
state) and is removed by ``down``; ``logs`` stays until the next ``up`` so a failure can be read
after it; ``cache`` keeps containerd's content store (the imported images) and the sandbox image
between runs. The node's directory is not under ``DevPaths.run``: ``python -m devtools down``
removes that one while the node may still be running.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devtools.home import Below, DevPaths, paths


@dataclass(frozen=True)
class NodePaths:
    root: Path
    cache: Path

    run = Below("root", "run")
    logs = Below("root", "logs")
    state_file = Below("root", "node.json")
    containerd_root = Below("cache", "containerd")
    containerd_state = Below("run", "containerd")
    containerd_socket = Below("containerd_state", "containerd.sock")
    cni_conf = Below("run", "cni", "net.d")
    kubelet_root = Below("run", "kubelet")


def node_paths(dev: DevPaths | None = None) -> NodePaths:
    dev = dev or paths()
    return NodePaths(root=dev.root / "node", cache=dev.cache / "node")
