"""``logwax check``: connect to every configured source and sink and say what works.

Each check is small and independent, so one unreachable system does not hide the state of the
others, and each failure carries the reason, ready to act on. The probes are the connectors'
own (their descriptors in ``logwax.connectors.registry``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from logwax.connectors.registry import INPUTS, SINKS, SOURCES
from logwax.settings import PipelineConfig

Check = tuple[str, Callable[[], str]]


def checks(config: PipelineConfig) -> list[Check]:
    found: list[Check] = []
    for source in config.sources:
        probe = SOURCES[source.type].probe
        found.append((f"source {source.name} ({source.type})", functools.partial(probe, source)))
    for key, given in INPUTS.items():
        settings = getattr(config, key)
        if settings is not None:
            found.append((f"source {key}", functools.partial(given.probe, settings)))
    for key, sink in SINKS.items():
        settings = getattr(config, key)
        if settings is not None:
            found.append((f"sink {key}", functools.partial(sink.probe, settings)))
    return found


def run_checks(config: PipelineConfig, out: Callable[[str], None] = print) -> bool:
    healthy = True
    for name, probe in checks(config):
        try:
            out(f"ok    {name}: {probe()}")
        except Exception as exc:
            healthy = False
            out(f"FAIL  {name}: {type(exc).__name__}: {exc}")
    return healthy
