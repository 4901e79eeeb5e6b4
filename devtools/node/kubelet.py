"""The node's kubelet: on loopback, cgroup v1 through cgroupfs, containerd over its own socket.

It listens on 127.0.0.1 only (``--node-ip`` too, so the API server reaches it there), serves
anonymous requests with ``AlwaysAllow`` (nothing off the machine can reach it), and keeps its root
under the node's run directory. Pod logs go where every kubelet writes them, ``/var/log/pods``
with the ``/var/log/containers`` links, since that is what the collect DaemonSet reads. Logs are
rotated small (``containerLogMaxSize``) so tests see rotation; evictions and image garbage
collection are held back so a busy shared disk does not evict the test's pods.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from devtools import kubernetes, process
from devtools.errors import DevServerError
from devtools.home import DevPaths, free_port
from devtools.node import kubectl
from devtools.node.layout import NodePaths

NODE_NAME = "logwax-dev-node"
POD_LOGS = Path("/var/log/pods")
CONTAINER_LOGS = Path("/var/log/containers")


def config(node: NodePaths, log_max_size: str) -> dict[str, object]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": "127.0.0.1",
        "port": free_port(),
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": free_port(),
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "containerRuntimeEndpoint": f"unix://{node.containerd_socket}",
        "failSwapOn": False,
        "containerLogMaxSize": log_max_size,
        "containerLogMaxFiles": 3,
        "evictionHard": {
            "memory.available": "1%",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "staticPodPath": "",
        "shutdownGracePeriod": "0s",
    }


def start(dev: DevPaths, node: NodePaths, kubeconfig: str, log_max_size: str = "1Mi") -> int:
    settings = node.run / "kubelet.json"
    settings.write_text(json.dumps(config(node, log_max_size), indent=2))
    node.kubelet_root.mkdir(parents=True, exist_ok=True)
    return process.spawn(
        [
            str(kubernetes.build(dev, "kubelet")),
            f"--config={settings}",
            f"--kubeconfig={kubeconfig}",
            f"--root-dir={node.kubelet_root}",
            "--node-ip=127.0.0.1",
            f"--hostname-override={NODE_NAME}",
            "--v=1",
        ],
        log=node.logs / "kubelet.log",
    )


ADDRESS_PATCH = json.dumps(
    {"status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}}
)


def pin_address(kubeconfig: str) -> bool:
    """Give the Node its loopback address; False until the kubelet has registered it.

    kubelet refuses a loopback ``--node-ip`` when it sets the node's addresses ("failed to
    validate nodeIP: nodeIP can't be loopback address") and then leaves them as they are. With
    none, the API server cannot reach the kubelet (``kubectl logs``) and host-network pods get no
    IP, so their HTTP probes have no host. Set once here, the address stays: the kubelet's
    failing setter never overwrites it.
    """
    try:
        kubectl.run(
            kubeconfig,
            "patch",
            "node",
            NODE_NAME,
            "--subresource=status",
            "--type=merge",
            "-p",
            ADDRESS_PATCH,
        )
    except DevServerError:
        return False
    return True


def pod_uids(node: NodePaths) -> list[str]:
    """The pods this kubelet has run (its root keeps a directory for each, by uid)."""
    pods = node.kubelet_root / "pods"
    return [entry.name for entry in pods.iterdir()] if pods.exists() else []


def remove_pod_logs(uids: list[str], since: float | None) -> int:
    """The ``/var/log/pods`` directories of this node's pods and the links to them; returns how
    many directories. A stopped node's pods are gone, and their logs would be read again as new by
    the next collector if they stayed. A pod is this node's if the kubelet still has its
    directory, or if its log directory appeared after the node started (the kubelet may have
    dropped a deleted pod's own directory before its logs when it was stopped): there is no other
    kubelet on a development machine."""
    removed = 0
    for directory in POD_LOGS.glob("*_*_*") if POD_LOGS.exists() else []:
        mine = any(directory.name.endswith(f"_{uid}") for uid in uids)
        if not mine and since is not None:
            try:
                mine = directory.stat().st_ctime >= since
            except OSError:
                continue
        if not mine:
            continue
        shutil.rmtree(directory, ignore_errors=True)
        removed += 1
    for link in CONTAINER_LOGS.glob("*.log") if CONTAINER_LOGS.exists() else []:
        # A link into /var/log/pods whose target went with a directory above.
        if (
            link.is_symlink()
            and str(link.readlink()).startswith(f"{POD_LOGS}/")
            and not link.exists()
        ):
            link.unlink()
    return removed
