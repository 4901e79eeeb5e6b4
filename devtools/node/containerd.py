"""Debian's containerd (1.6, CRI plugin) with runc, as the node's container runtime.

Its config, state and socket live under the node's run directory and its content store under the
cache, so it never touches a system containerd (``/run/containerd``, ``/var/lib/containerd``) nor
the one the project's Docker engine starts. The sandbox image is the locally built pause image;
cgroups are cgroupfs (v1 here). The CNI configuration is an isolated bridge with no gateway and no
masquerade: a pod that is not on the host network can reach its peers on the bridge and nothing
else, so nothing routes off the machine. The logwax pods use the host network anyway.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from devtools import process
from devtools.errors import DevServerError
from devtools.home import pid_alive
from devtools.node.layout import NodePaths

CNI_BIN = Path("/usr/lib/cni")
NAMESPACE = "k8s.io"  # the containerd namespace the CRI plugin uses
BRIDGE = "logwax-cni0"
POD_SUBNET = "10.244.0.0/24"


def _config(node: NodePaths, sandbox_image: str) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{node.containerd_root}"
state = "{node.containerd_state}"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "{node.containerd_socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{node.containerd_root / "opt"}"

[{cri}]
  sandbox_image = "{sandbox_image}"
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  enable_selinux = false
  # Without CAP_SYS_RESOURCE (some VMs and sandboxes) no process may lower its OOM score, and
  # runc then fails every sandbox (-998) and critical pod (-997): never go below our own.
  restrict_oom_score_adj = true
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{node.cni_conf}"
"""


def _cni(node: NodePaths) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": "logwax-node",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": False,
                "ipMasq": False,
                "hairpinMode": False,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET}]],
                    "dataDir": str(node.run / "cni" / "ipam"),
                },
            }
        ],
    }


def binaries() -> tuple[str, str]:
    containerd, ctr = shutil.which("containerd"), shutil.which("ctr")
    if containerd is None or ctr is None or shutil.which("runc") is None:
        raise DevServerError("containerd and runc are missing: apt-get install containerd runc")
    if not (CNI_BIN / "bridge").exists():
        raise DevServerError(
            "the CNI plugins are missing: apt-get install containernetworking-plugins"
        )
    return containerd, ctr


def ctr(node: NodePaths, *args: str, check: bool = True) -> str:
    """``ctr`` against this node's containerd, in the CRI namespace."""
    command = [binaries()[1], "--address", str(node.containerd_socket), "-n", NAMESPACE, *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise DevServerError(f"ctr {' '.join(args)} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout


def answers(node: NodePaths) -> bool:
    if not node.containerd_socket.exists():
        return False
    try:
        ctr(node, "version")
    except (DevServerError, subprocess.TimeoutExpired):
        return False
    return True


def start(node: NodePaths, sandbox_image: str, timeout: float = 60.0) -> tuple[int, float]:
    """Start containerd with this node's config; returns its pid and the seconds it took."""
    containerd, _ = binaries()
    for directory in (node.containerd_state, node.cni_conf, node.containerd_root):
        directory.mkdir(parents=True, exist_ok=True)
    (node.cni_conf / "10-logwax-node.conflist").write_text(json.dumps(_cni(node), indent=2))
    config = node.run / "containerd.toml"
    config.write_text(_config(node, sandbox_image))
    log = node.logs / "containerd.log"
    pid = process.spawn([containerd, "--config", str(config)], log=log)
    waited = process.wait_until(
        "containerd",
        lambda: answers(node),
        timeout=timeout,
        alive=lambda: pid_alive(pid),
        log=log,
    )
    return pid, waited


def import_image(node: NodePaths, tar: Path) -> None:
    ctr(node, "images", "import", str(tar))


def images(node: NodePaths) -> set[str]:
    return set(ctr(node, "images", "ls", "-q").split())


def shim_pids(node: NodePaths) -> list[int]:
    """The runc shims this containerd started (their command line names its socket)."""
    found = []
    needle = str(node.containerd_socket).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"containerd-shim" in cmdline and needle in cmdline:
            found.append(int(entry.name))
    return found


def remove_containers(node: NodePaths) -> int:
    """Kill and delete every task and container of the node; returns how many there were."""
    ids = ctr(node, "containers", "ls", "-q").split()
    for container in ids:
        ctr(node, "tasks", "kill", "--signal", "SIGKILL", container, check=False)
    for container in ids:
        ctr(node, "tasks", "delete", "--force", container, check=False)
        ctr(node, "containers", "delete", container, check=False)
    return len(ids)


def stop(node: NodePaths, pid: int | None) -> None:
    """Containers first (while containerd can still do it), then the shims and containerd."""
    if pid_alive(pid) and answers(node):
        remove_containers(node)
    for shim in shim_pids(node):
        process.terminate(shim, "containerd-shim", grace=10.0)
    process.terminate(pid, "containerd", grace=30.0)
    if pid is not None and pid_alive(pid):
        raise DevServerError(f"containerd (pid {pid}) did not stop")
    # The bridge is only there while pods off the host network ran; it goes with the node.
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        subprocess.run(["ip", "link", "delete", BRIDGE], check=False, capture_output=True)
