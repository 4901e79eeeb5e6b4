"""What the node left running after ``down``: the processes it recorded by pid, and any process
still in a pod's cgroup (the kubelet puts every container, pause included, under ``kubepods``).
The suite's last check, so a run that leaks a kubelet or a container fails instead of slowing
the next one down."""

from __future__ import annotations

import os
from pathlib import Path

from devtools.home import pid_alive


def alive(pids: dict[str, int]) -> dict[str, int]:
    return {name: pid for name, pid in pids.items() if pid_alive(pid)}


def pod_processes() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if "kubepods" in (entry / "cgroup").read_text():
                found.append(int(entry.name))
        except OSError:
            continue  # exited while we looked
    return [pid for pid in found if pid != os.getpid()]
