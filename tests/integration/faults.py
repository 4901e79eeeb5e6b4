"""The faults the proxy tests hold and lift, and what they read from metrics and ``/readyz``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from prometheus_client import REGISTRY

from devtools.toxiproxy import Toxiproxy
from logwax.core import observability

RESUME_WITHIN = 10.0
QUIET = logging.getLogger("tests.faults.producer")  # its broker is gone when it is collected
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False


def upstream(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.hostname}:{parsed.port}"


def ours(name: str) -> list[str]:
    return [p for p in observability.readiness(3600) if name in p]


def sink_errors(sink: str) -> float:
    return sum(sink_errors_by_reason(sink).values())


def sink_errors_by_reason(sink: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for metric in REGISTRY.collect():
        if metric.name == "logwax_sink_errors":
            for s in metric.samples:
                if s.name.endswith("_total") and s.labels.get("sink") == sink:
                    found[s.labels["reason"]] = s.value
    return found


# fault name -> (apply, lift, seconds held)
Fault = tuple[Callable[[Toxiproxy, str], Any], Callable[[Toxiproxy, str], None], float]
FAULTS: dict[str, Fault] = {
    "latency": (
        lambda t, p: t.toxic(p, "latency", {"latency": 3000}),
        lambda t, p: t.remove(p, "latency_downstream"),
        6.0,
    ),
    "reset_mid_stream": (
        lambda t, p: t.toxic(p, "reset_peer", {"timeout": 300}),
        lambda t, p: t.remove(p, "reset_peer_downstream"),
        6.0,
    ),
    "timeout": (
        lambda t, p: t.toxic(p, "timeout", {"timeout": 4000}),
        lambda t, p: t.remove(p, "timeout_downstream"),
        8.0,
    ),
    "bandwidth": (
        lambda t, p: t.toxic(p, "bandwidth", {"rate": 4}, stream="upstream"),
        lambda t, p: t.remove(p, "bandwidth_upstream"),
        6.0,
    ),
    "down_30s": (
        lambda t, p: t.enabled(p, False),
        lambda t, p: t.enabled(p, True),
        30.0,
    ),
}
