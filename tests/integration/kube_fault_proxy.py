"""A loopback HTTP proxy in front of the real kube-apiserver that answers in its place on demand.

The real API server cannot be made to answer 500, 429 with ``Retry-After``, a 410 on every
watch, a line that is not JSON, or a stream cut in the middle of an object. This proxy forwards
every request to it (over HTTPS, with the caller's own token) and, while a fault is armed,
answers the next list or watch of Events (or pods) with that fault instead, or splices it into the
server's real watch stream. Everything else, and every Event, is the real server's.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from devtools.process import Running


@dataclass(frozen=True)
class Fault:
    """``status``: answer with this HTTP status (and ``Retry-After`` if given); ``gone``: a
    watch answered 200 with one ERROR 410 event; ``garbage``: a non-JSON line before the real
    stream; ``cut``: the real stream, cut halfway through its first Event."""

    kind: str
    status: int = 0
    retry_after: int | None = None


@dataclass(frozen=True)
class Seen:
    at: float  # time.monotonic()
    watch: bool
    fault: str | None


def gaps_after(seen: list[Seen], kind: str) -> list[float]:
    """Seconds from each faulted request to the request that followed it."""
    gaps = []
    for i, request in enumerate(seen[:-1]):
        if request.fault == kind:
            gaps.append(seen[i + 1].at - request.at)
    return gaps


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        watch = "watch=true" in self.path.lower()
        fault = self.server.owner.take(self.path)
        self.server.owner.seen.append(Seen(time.monotonic(), watch, fault and fault.kind))
        self.close_connection = True
        if fault is not None and fault.kind == "status":
            self._status(fault)
        elif fault is not None and fault.kind == "gone":
            self._chunked_start(200)
            event = {
                "type": "ERROR",
                "object": {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "Expired",
                    "message": "too old resource version (from the fault proxy)",
                    "code": 410,
                },
            }
            self._chunk(json.dumps(event).encode() + b"\n")
            self._chunk(b"")
        else:
            self._forward(fault, watch)

    def _status(self, fault: Fault) -> None:
        body = json.dumps(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "message": f"injected {fault.status} by the fault proxy",
                "code": fault.status,
            }
        ).encode()
        self.send_response(fault.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if fault.retry_after is not None:
            self.send_header("Retry-After", str(fault.retry_after))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _chunked_start(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _forward(self, fault: Fault | None, watch: bool) -> None:
        upstream = self.server.owner.upstream()
        wanted = ("authorization", "accept")
        headers = {k: v for k, v in self.headers.items() if k.lower() in wanted}
        try:
            upstream.request("GET", self.path, headers=headers)
            response = upstream.getresponse()
            if not watch or response.status != 200:
                body = response.read()
                self.send_response(response.status)
                for name in ("Content-Type", "Retry-After"):
                    if response.getheader(name):
                        self.send_header(name, str(response.getheader(name)))
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                return
            self._chunked_start(200)
            if fault is not None and fault.kind == "garbage":
                self._chunk(b"<html>this is not JSON</html>\n")
            for _ in range(100_000):  # bounded: a watch ends at its timeout
                line = response.readline()
                if not line:
                    break
                if fault is not None and fault.kind == "cut" and b'"ADDED"' in line:
                    self.wfile.write(f"{len(line):x}\r\n".encode() + line[: len(line) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._chunk(line)
            self._chunk(b"")
        except OSError:
            return  # the client went away (a stop, or the cut above)
        finally:
            upstream.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FaultProxy


class FaultProxy(Running):
    """``with FaultProxy(kubeconfig) as proxy``: ``proxy.kubeconfig(dir)`` reaches the same
    server and user through it; ``proxy.arm(...)`` queues faults for the next calls on
    ``resource`` (Events unless told: ``pods`` for the metadata cache)."""

    def __init__(self, kubeconfig: str, resource: str = "events") -> None:
        self._resource = f"/{resource}"
        self._document = json.loads(Path(kubeconfig).read_text())
        cluster = self._document["clusters"][0]["cluster"]
        self._target = urlparse(cluster["server"])
        self._context = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def upstream(self) -> http.client.HTTPSConnection:
        host, port = self._target.hostname or "127.0.0.1", self._target.port or 443
        return http.client.HTTPSConnection(host, port, context=self._context, timeout=90)

    def kubeconfig(self, directory: Path) -> Path:
        document = json.loads(json.dumps(self._document))
        cluster = document["clusters"][0]["cluster"]
        cluster["server"] = f"http://127.0.0.1:{self._server.server_address[1]}"
        cluster.pop("certificate-authority", None)
        path = directory / "kubeconfig-through-fault-proxy"
        path.write_text(json.dumps(document))
        return path

    def arm(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def armed(self) -> int:
        with self._lock:
            return len(self._faults)

    def take(self, path: str) -> Fault | None:
        """The next fault, for a list or watch of the resource (other calls pass through); a
        fault of the watch stream (all but ``status``) waits for the next watch."""
        if self._resource not in path.split("?", 1)[0]:
            return None
        watch = "watch=true" in path.lower()
        with self._lock:
            if self._faults and (watch or self._faults[0].kind == "status"):
                return self._faults.popleft()
            return None

    def faulted(self, kind: str) -> list[Seen]:
        return [s for s in self.seen if s.fault == kind]
