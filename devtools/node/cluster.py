"""``python -m devtools k8s up|down|status``: a one-node Kubernetes cluster on loopback.

Ready means what a user would check: the Node reports ``Ready`` and a pod (the sandbox image
itself, on the host network) reaches ``Running``. ``up`` reuses a cluster whose processes are all
alive and whose node is still Ready; anything else is stopped and started afresh. ``down`` stops
every process by the pid ``up`` recorded (kubelet first so it restarts nothing, then the pods'
containers and their shims, containerd and the control plane), unmounts what the pods left
mounted, and removes the run directory and the pods' log files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from devtools import kubernetes, process
from devtools.errors import DevServerError
from devtools.home import DevPaths, paths, pid_alive, read_json, write_json
from devtools.node import containerd, control, kubectl, kubelet, pause
from devtools.node.layout import NodePaths, node_paths

Log = Callable[[str], None]
PROBE_POD = "logwax-node-probe"
# Stop order: the kubelet would restart what is stopped under it; the control plane goes last.
STOP_ORDER = (
    "kubelet",
    "containerd",
    "kube-scheduler",
    "kube-controller-manager",
    "kube-apiserver",
    "etcd",
)


def read_state(node: NodePaths) -> dict[str, Any]:
    return read_json(node.state_file)


def _write_state(node: NodePaths, state: dict[str, Any]) -> None:
    write_json(node.state_file, state)


def node_ready(kubeconfig: str) -> bool:
    try:
        found = kubectl.get(kubeconfig, "node", kubelet.NODE_NAME)
    except (DevServerError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return False
    return kubectl.condition(found, "Ready") == "True"


def _probe_manifest(image: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": PROBE_POD, "namespace": "default"},
            "spec": {
                "hostNetwork": True,
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "pause", "image": image, "imagePullPolicy": "Never"}],
            },
        }
    )


def _probe_running(kubeconfig: str, image: str) -> bool:
    """Create the probe pod (the default service account may not exist yet: try again)."""
    try:
        pod = kubectl.get(kubeconfig, "pod", "-n", "default", PROBE_POD)
    except (DevServerError, json.JSONDecodeError):
        kubectl.run(kubeconfig, "apply", "-f", "-", stdin=_probe_manifest(image), check=False)
        return False
    return bool(pod.get("status", {}).get("phase") == "Running")


def is_up(node: NodePaths, state: dict[str, Any]) -> bool:
    pids = state.get("pids") or {}
    if not pids or not all(pid_alive(pid) for pid in pids.values()):
        return False
    return node_ready(state["kubeconfig"])


def up(log: Log = print, timeout: float = 180.0, log_max_size: str = "1Mi") -> dict[str, Any]:
    """Start the cluster (or reuse a running one); returns its state (kubeconfig, pids, times)."""
    dev, node = paths(), node_paths()
    with _exclusive(node):
        state = read_state(node)
        if is_up(node, state):
            log(f"node: reusing {state['url']} (kubeconfig {state['kubeconfig']})")
            return state
        _stop_all(node, state, log=lambda _line: None)
        began = time.monotonic()
        cold = not all(_built(dev, name) for name in kubernetes.COMPONENTS)
        for name in kubernetes.COMPONENTS:
            kubernetes.build(dev, name)
        built_s = time.monotonic() - began
        shutil.rmtree(node.logs, ignore_errors=True)
        node.logs.mkdir(parents=True)
        tar, sandbox = pause.build(dev)
        state = {"pids": {}, "log_max_size": log_max_size, "started_at": time.time()}
        pids: dict[str, int] = state["pids"]
        try:
            pids["containerd"], _ = containerd.start(node, sandbox)
            _write_state(node, state)
            if sandbox not in containerd.images(node):
                containerd.import_image(node, tar)
            server, _ = control.start_apiserver(dev, node)
            pids["kube-apiserver"], pids["etcd"] = server.pid, server.etcd_pid
            state.update(url=server.url, kubeconfig=server.kubeconfig, sandbox_image=sandbox)
            _write_state(node, state)
            pids.update(control.start_controllers(dev, node, server.kubeconfig))
            pids["kubelet"] = kubelet.start(dev, node, server.kubeconfig, log_max_size)
            _write_state(node, state)
            all_alive = lambda: all(pid_alive(pid) for pid in pids.values())  # noqa: E731
            process.wait_until(
                f"node {kubelet.NODE_NAME} registered",
                lambda: kubelet.pin_address(server.kubeconfig),
                timeout=timeout,
                alive=all_alive,
                log=node.logs / "kubelet.log",
            )
            process.wait_until(
                f"node {kubelet.NODE_NAME} Ready",
                lambda: node_ready(server.kubeconfig),
                timeout=timeout,
                alive=all_alive,
                log=node.logs / "kubelet.log",
            )
            process.wait_until(
                f"pod {PROBE_POD} Running",
                lambda: _probe_running(server.kubeconfig, sandbox),
                timeout=timeout,
                alive=all_alive,
                log=node.logs / "kubelet.log",
            )
        except BaseException:
            _stop_all(node, state, log=log)
            raise
        total = time.monotonic() - began
        state.update(cold=cold, build_s=round(built_s, 1), start_total_s=round(total, 1))
        _write_state(node, state)
        log(
            f"node: {kubelet.NODE_NAME} Ready and a pod Running in {total:.1f}s "
            f"({'cold: built the binaries in ' + f'{built_s:.0f}s' if cold else 'warm'}); "
            f"KUBECONFIG={server.kubeconfig}"
        )
        return state


def _built(dev: DevPaths, name: str) -> bool:
    return (dev.cache / f"kubernetes-{kubernetes.KUBERNETES_VERSION}" / name).exists()


@contextlib.contextmanager
def _exclusive(node: NodePaths) -> Iterator[None]:
    """One ``up`` or ``down`` of the node at a time (its own lock: a node start takes minutes
    and must not hold up the brokers' ``up``)."""
    node.root.mkdir(parents=True, exist_ok=True)
    with open(node.root / "node.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unmount_below(*roots: Path) -> None:
    """Pods leave tmpfs, shm and overlay mounts under the kubelet's and containerd's dirs."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    prefixes = tuple(f"{root}/" for root in roots)
    for mount in sorted((m for m in mounts if m.startswith(prefixes)), reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)


def _stop_all(node: NodePaths, state: dict[str, Any], log: Log) -> None:
    pids: dict[str, int] = state.get("pids") or {}
    uids = kubelet.pod_uids(node)
    for name in STOP_ORDER:
        pid = pids.get(name)
        if name == "containerd":
            containerd.stop(node, pid)
        else:
            process.terminate(pid, name, grace=30.0)
        if pid is not None:
            log(f"node: {name} stopped (pid {pid})")
    _unmount_below(node.run, node.containerd_root)
    removed = kubelet.remove_pod_logs(uids, state.get("started_at"))
    if removed:
        log(f"node: removed the log directories of {removed} pod(s) under {kubelet.POD_LOGS}")
    shutil.rmtree(node.run, ignore_errors=True)
    node.state_file.unlink(missing_ok=True)


def down(log: Log = print) -> None:
    node = node_paths()
    with _exclusive(node):
        _stop_all(node, read_state(node), log)


def status() -> list[str]:
    node = node_paths()
    state = read_state(node)
    if not state:
        return ["node           stopped"]
    rows = []
    for name, pid in (state.get("pids") or {}).items():
        alive = "running" if pid_alive(pid) else "stopped"
        memory = process.rss_mb(pid)
        rows.append(
            f"  {name:24s} {alive:8s} pid {pid:<8d} {f'{memory:.0f} MiB' if memory else ''}"
        )
    ready = node_ready(state["kubeconfig"]) if "kubeconfig" in state else False
    head = f"node           {'Ready' if ready else 'NotReady'} {state.get('url', '-')}"
    if state.get("start_total_s"):
        head += f" (started in {state['start_total_s']}s)"
    return [head, *rows, f"  kubeconfig {state.get('kubeconfig', '-')}", f"  logs {node.logs}"]
