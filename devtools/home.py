"""Where the local development servers live: downloads, data, logs and the endpoints file.

Everything sits outside the repository so a clean clone stays clean and the (slow) Maven downloads
are reused between runs. When logwax runs as root the directory must be traversable by the
unprivileged user Elasticsearch runs as, so root gets a system-wide location instead of ``~``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOME_ENV = "LOGWAX_DEV_HOME"


def dev_home() -> Path:
    """The root directory for downloads, server data and logs (``$LOGWAX_DEV_HOME`` wins)."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured)
    if os.geteuid() == 0:
        return Path("/var/cache/logwax")
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "logwax"


class Below:
    """A layout's path: ``parts`` below another path of the same layout (``base``, an attribute
    name). Each layout (the dev home, the engine, the node) then names a file in one line, and
    where it sits follows its base."""

    def __init__(self, base: str, *parts: str) -> None:
        self.base = base
        self.parts = parts

    def __get__(self, layout: object, owner: type | None = None) -> Path:
        return Path(getattr(layout, self.base), *self.parts)


@dataclass(frozen=True)
class DevPaths:
    """The layout under :func:`dev_home`: ``cache/`` survives ``dev down``, ``run/`` does not."""

    root: Path

    cache = Below("root", "cache")
    run = Below("root", "run")
    state_file = Below("run", "endpoints.json")
    lock_file = Below("root", "dev.lock")

    def logs(self) -> Path:
        path = self.run / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path


def paths() -> DevPaths:
    root = dev_home()
    root.mkdir(parents=True, exist_ok=True)
    return DevPaths(root)


@contextlib.contextmanager
def exclusive(dev: DevPaths) -> Iterator[None]:
    """Serialise ``up``/``down`` so a demo and a test run started together share one server set."""
    with open(dev.lock_file, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_json(path: Path) -> dict[str, Any]:
    """A state file (what runs, on which port, with which pid); empty when there is none yet
    or a crash left it half written."""
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return loaded


def write_json(path: Path, state: dict[str, Any]) -> None:
    """Written aside and renamed, so a reader never sees half a state file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    tmp.replace(path)


def read_state(dev: DevPaths) -> dict[str, Any]:
    return read_json(dev.state_file)


def write_state(dev: DevPaths, state: dict[str, Any]) -> None:
    write_json(dev.state_file, state)


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def runs(pid: int | None, program: str) -> bool:
    """``pid`` is alive and its command line names ``program``. Pids are recycled fast on a busy
    machine (the pid space here wraps within minutes), so a pid from a state file or from a
    process already reaped may by now belong to anything: check before signalling it."""
    if not pid_alive(pid):
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return program.encode() in command


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); look at its state to tell.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
