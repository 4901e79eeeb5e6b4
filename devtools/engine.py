"""A Docker engine of the project's own: Debian's ``docker.io``, started with no bridge network.

No registry can be reached, so the engine only ever runs images built here, and containers use the
host's network namespace (every port they open is on the host's loopback): the bridge, iptables
and ip6tables stay off. Its data root sits under the dev cache (images survive ``down``), its exec
root, pidfile and socket under the dev home, so it never touches a system engine's
``/var/run/docker.sock`` or ``/var/lib/docker``.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devtools import process
from devtools.errors import DevServerError
from devtools.home import Below, DevPaths, paths, pid_alive, runs

PACKAGE = "docker.io"
HOST_ENV = "DOCKER_HOST"
Log = Callable[[str], None]


@dataclass(frozen=True)
class EnginePaths:
    """Where the engine keeps what: ``data`` is cached, the rest is per run."""

    data: Path
    run: Path

    exec_root = Below("run", "exec")
    pidfile = Below("run", "dockerd.pid")
    socket = Below("run", "docker.sock")
    log = Below("run", "dockerd.log")

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"


def engine_paths(dev: DevPaths | None = None) -> EnginePaths:
    dev = dev or paths()
    # Not under dev.run: ``devtools down`` removes that directory while the engine may still run.
    return EnginePaths(data=dev.cache / "docker", run=dev.root / "engine")


def dockerd() -> str | None:
    return shutil.which("dockerd")


def client() -> str:
    """The CLI that ships with the engine (another ``docker`` earlier on PATH may be newer than
    the daemon's API and default to a builder it lacks)."""
    found = dockerd()
    if found is not None and (Path(found).parent / "docker").exists():
        return str(Path(found).parent / "docker")
    return shutil.which("docker") or "docker"


def install(log: Log = print) -> bool:
    """Install Debian's engine when root and missing; False when it cannot be had."""
    if dockerd() is not None:
        return True
    if os.geteuid() != 0:
        log(f"no Docker engine and not root: run 'sudo apt-get install -y {PACKAGE}'")
        return False
    log(f"installing {PACKAGE} from Debian ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", PACKAGE],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return dockerd() is not None


def answers(where: EnginePaths, timeout: float = 2.0) -> bool:
    """``GET /_ping`` on the engine's socket says OK."""
    if not where.socket.exists():
        return False
    conn = _UnixHTTP(str(where.socket), timeout)
    try:
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def running_pid(where: EnginePaths) -> int | None:
    try:
        pid = int(where.pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if runs(pid, "dockerd") else None


def up(log: Log = print, timeout: float = 60.0) -> EnginePaths | None:
    """Start the engine (installing it first when root), or reuse one that answers.

    None when no engine can be had here (not root and not installed, or it would not start).
    """
    where = engine_paths()
    if running_pid(where) and answers(where):
        log(f"engine: reusing {where.host} (pid {running_pid(where)})")
        return where
    if not install(log):
        return None
    binary = dockerd()
    if binary is None:
        return None
    if os.geteuid() != 0:
        log("engine: dockerd needs root here; the tests use local processes")
        return None
    down(log=lambda _line: None)
    where.data.mkdir(parents=True, exist_ok=True)
    where.exec_root.mkdir(parents=True, exist_ok=True)
    where.socket.unlink(missing_ok=True)
    began = time.monotonic()
    launcher = process.spawn(
        [
            binary,
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            f"--data-root={where.data}",
            f"--exec-root={where.exec_root}",
            f"--pidfile={where.pidfile}",
            f"--host={where.host}",
            "--log-level=warn",
        ],
        log=where.log,
    )
    process.wait_until(
        f"dockerd at {where.host}",
        lambda: answers(where),
        timeout=timeout,
        alive=lambda: pid_alive(launcher),
        log=where.log,
    )
    log(f"engine: {where.host} (pid {launcher}) answered in {time.monotonic() - began:.1f}s")
    return where


def down(log: Log = print) -> None:
    """Stop the engine by its pid (it stops its containers and its containerd first)."""
    where = engine_paths()
    pid = running_pid(where)
    if pid is None:
        return
    process.terminate(pid, "dockerd", grace=60.0)
    if pid_alive(pid):
        raise DevServerError(f"dockerd (pid {pid}) did not stop")
    log(f"engine: stopped (pid {pid})")


def host_if_running() -> str | None:
    """The ``DOCKER_HOST`` of the project's engine when it answers now, without starting it."""
    where = engine_paths()
    if running_pid(where) and answers(where):
        return where.host
    return None


def status() -> str:
    where = engine_paths()
    pid = running_pid(where)
    if pid is None:
        return f"engine         stopped  (dockerd {'installed' if dockerd() else 'not installed'})"
    state = "running" if answers(where) else "not answering"
    return f"engine         {state:8s} {where.host} (pid {pid}, data {where.data})"
