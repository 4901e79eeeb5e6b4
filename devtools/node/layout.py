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

from devtools.home import DevPaths, paths


@dataclass(frozen=True)
class NodePaths:
    root: Path
    cache: Path

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state_file(self) -> Path:
        return self.root / "node.json"

    @property
    def containerd_root(self) -> Path:
        return self.cache / "containerd"

    @property
    def containerd_state(self) -> Path:
        return self.run / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.containerd_state / "containerd.sock"

    @property
    def cni_conf(self) -> Path:
        return self.run / "cni" / "net.d"

    @property
    def kubelet_root(self) -> Path:
        return self.run / "kubelet"


def node_paths(dev: DevPaths | None = None) -> NodePaths:
    dev = dev or paths()
    return NodePaths(root=dev.root / "node", cache=dev.cache / "node")
