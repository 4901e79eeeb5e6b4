"""A real etcd (Debian's etcd-server) on free loopback ports, stoppable and restartable."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from devtools.home import free_port


class LocalEtcd:
    def __init__(self, data: Path) -> None:
        binary = shutil.which("etcd")
        if binary is None:
            raise AssertionError("etcd is missing: apt-get install etcd-server")
        self._binary, self._data = binary, data
        self.port, self._peer = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self._data.with_suffix(".log"), "ab")  # noqa: SIM115 - owned by etcd
        self._proc = subprocess.Popen(
            [
                self._binary,
                "--data-dir",
                str(self._data),
                "--name",
                "test",
                "--listen-client-urls",
                self.url,
                "--advertise-client-urls",
                self.url,
                "--listen-peer-urls",
                f"http://127.0.0.1:{self._peer}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{self._peer}",
                "--initial-cluster",
                f"test=http://127.0.0.1:{self._peer}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if b"true" in response.read():
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("etcd did not become healthy")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
