"""A kube-apiserver and etcd of one test's own, to stop and restart without disturbing the
shared one. It reuses the binary the dev tools built (their cache), so it starts in seconds."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devtools import kubernetes, process
from devtools.home import DevPaths, paths, pid_alive, runs


@dataclass
class PrivateApiserver:
    kubeconfig: str
    url: str
    etcd_url: str
    pid: int
    etcd_pid: int
    args: list[str]
    log: Path

    def stop(self) -> None:
        """The API server dies (SIGKILL: a graceful stop waits a minute for open watches);
        etcd and its data stay."""
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)  # our own child: reaped, so the port is free again
        self.pid = 0  # its pid may now be any other process's: never signal it again

    def restart(self, *extra_args: str) -> None:
        """The same server again: same port, certificates, token and etcd."""
        self.args.extend(extra_args)
        self.pid = process.spawn(self.args, log=self.log)
        process.wait_until(
            "private kube-apiserver",
            lambda: kubernetes.is_ready(self.url, self.kubeconfig),
            timeout=120,
            alive=lambda: pid_alive(self.pid),
            log=self.log,
        )


@contextlib.contextmanager
def private_apiserver(root: Path) -> Iterator[PrivateApiserver]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cache").symlink_to(paths().cache, target_is_directory=True)
    dev = DevPaths(root)
    server, _waited = kubernetes.start(dev)
    args = Path(f"/proc/{server.pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    handle = PrivateApiserver(
        server.kubeconfig,
        server.url,
        server.etcd_url,
        server.pid,
        server.etcd_pid,
        args,
        dev.logs() / "kube-apiserver.log",
    )
    try:
        yield handle
    finally:
        for pid, program in ((handle.pid, "kube-apiserver"), (handle.etcd_pid, "etcd")):
            if runs(pid, program):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
