"""The operator's view of a running job: /metrics, /healthz, /readyz on one port, and JSON logs.

/healthz answers while the process runs (liveness: restart me only if I stop answering).
/readyz answers 200 only while the last recovery snapshot is recent, no sink is in a failing
streak, no source thread is down, no source has failed longer than its grace and no request
hangs (see ``health``), and says why otherwise, so a probe or a person can read why a job is
unhealthy.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from logwax.core import health
from logwax.core.metrics import LAST_SNAPSHOT

_sink_failures: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()
STARTED = time.time()


def sink_failed(sink: str, reason: str) -> None:
    with _lock:
        _sink_failures.setdefault(sink, (time.time(), reason))


def sink_succeeded(sink: str) -> None:
    with _lock:
        _sink_failures.pop(sink, None)


_last_snapshot = 0.0  # the gauge's value, kept here too: the gauge has no public getter


def snapshot_taken() -> None:
    global _last_snapshot
    _last_snapshot = time.time()
    LAST_SNAPSHOT.set(_last_snapshot)


def readiness(snapshot_interval_s: float, now: float | None = None) -> list[str]:
    """Why the job is not ready; empty when it is."""
    now = time.time() if now is None else now
    problems = []
    last = _last_snapshot
    allowed = max(3 * snapshot_interval_s, 30.0)
    reference = last if last > 0 else STARTED
    if now - reference > allowed:
        what = f"last snapshot {now - last:.0f}s ago" if last > 0 else "no snapshot yet"
        problems.append(f"{what} (allowed {allowed:.0f}s): the flow is stuck or restarting")
    with _lock:
        for sink, (since, reason) in sorted(_sink_failures.items()):
            problems.append(f"sink {sink} failing for {now - since:.0f}s: {reason}")
    problems.extend(health.problems(now))
    return problems


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def serve(port: int, snapshot_interval_s: float, host: str = "0.0.0.0") -> WSGIServer:
    metrics = make_wsgi_app()

    def app(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == "/readyz":
            problems = readiness(snapshot_interval_s)
            status = "503 Service Unavailable" if problems else "200 OK"
            start(status, [("Content-Type", "text/plain")])
            return [("\n".join(problems) if problems else "ok").encode() + b"\n"]
        result: Iterable[bytes] = metrics(environ, start)
        return result

    server = make_server(host, port, app, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True, name="observability").start()
    return server


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, style: str = "kv") -> None:
    """Log lines to stderr as ``key=value`` text or, with ``style="json"``, one JSON object."""
    handler = logging.StreamHandler(sys.stderr)
    if style == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
        )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    if logging.getLogger().level > logging.DEBUG:
        # One line per HTTP request (every bulk, every count) drowns logwax's own lines.
        # Below DEBUG, every retried request and failing node would also come with a full
        # traceback; the sinks say why in one line instead (elasticsearch/refusal.py).
        logging.getLogger("elastic_transport.transport").setLevel(logging.ERROR)
        logging.getLogger("elastic_transport.node_pool").setLevel(logging.ERROR)
