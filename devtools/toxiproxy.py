"""Toxiproxy: a real TCP proxy between logwax and a dev server, to inject network faults.

Built once from the Go module proxy into the cache (like kube-apiserver and kustomize), then
started per test on its own loopback port, so faults never touch the shared servers: a test
points logwax at the proxy's port and adds toxics (latency, reset_peer, timeout, bandwidth) or
disables the proxy (the server "down") through the HTTP API.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from devtools import process
from devtools.home import DevPaths, free_port, pid_alive, port_open
from devtools.tools import go_install

MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
VERSION = "v2.12.0"


def build(dev: DevPaths) -> Path:
    """``go install`` the server once into the cache; returns the binary."""
    target = dev.cache / "tools" / f"toxiproxy-{VERSION}"
    binary = target / "toxiproxy-server"
    if not binary.exists():
        go_install(f"{MODULE}@{VERSION}", target)
        (target / "server").rename(binary)
    return binary


class Toxiproxy(process.Running):
    """One toxiproxy server for the caller alone; stopped on exit."""

    def __init__(self, dev: DevPaths) -> None:
        self._binary = build(dev)
        self._log = dev.logs() / "toxiproxy.log"
        self.port = free_port()
        self.pid = 0

    def start(self) -> None:
        args = [str(self._binary), "-host", "127.0.0.1", "-port", str(self.port)]
        self.pid = process.spawn(args, log=self._log)
        process.wait_until(
            f"toxiproxy on {self.port}",
            lambda: port_open(self.port),
            timeout=20,
            alive=lambda: pid_alive(self.pid),
            log=self._log,
        )

    def stop(self) -> None:
        process.terminate(self.pid, "toxiproxy", grace=5)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def proxy(self, name: str, upstream: str) -> int:
        """A proxy to ``host:port`` on a fresh loopback port; returns that port."""
        port = free_port()
        self._call(
            "POST",
            "/proxies",
            {"name": name, "listen": f"127.0.0.1:{port}", "upstream": upstream, "enabled": True},
        )
        return port

    def enabled(self, name: str, enabled: bool) -> None:
        """Disabled: listening stops and every open connection is closed (the server down)."""
        self._call("POST", f"/proxies/{name}", {"enabled": enabled})

    def toxic(
        self, proxy: str, kind: str, attributes: dict[str, int], stream: str = "downstream"
    ) -> str:
        name = f"{kind}_{stream}"
        self._call(
            "POST",
            f"/proxies/{proxy}/toxics",
            {"name": name, "type": kind, "stream": stream, "attributes": attributes},
        )
        return name

    def remove(self, proxy: str, toxic: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{toxic}")
