"""What ``/readyz`` knows about sources and dependencies beyond snapshots: who is down, who is
failing, and which request has hung.

A source whose thread ended is not ready at once (a stall must never be silent); a source whose
calls keep failing is not ready once it has failed longer than the grace (short blips should
not flap the probe); a request in flight longer than ``hung_after`` (well under the clients'
timeouts) counts as failing for as long as it hangs, since a frozen server leaves the port open
and the client only gives up at its timeout.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from logwax.core.metrics import DEPENDENCY_MISSING, SOURCE_UP

log = logging.getLogger(__name__)

SOURCE_FAILURE_GRACE = 60.0
HUNG_AFTER = 10.0
MISSING_REPEAT = 300.0  # a missing topic, index or namespace is logged again this often


@dataclass
class _Limits:
    grace: float = SOURCE_FAILURE_GRACE
    hung_after: float = HUNG_AFTER


_limits = _Limits()
_lock = threading.Lock()
_failing: dict[str, tuple[float, str]] = {}  # source -> (since, reason)
_down: dict[str, str] = {}  # source -> why its thread ended
_in_flight: dict[int, tuple[str, str, float]] = {}  # id -> (component, what, started)
_ids = itertools.count()
_missing: dict[tuple[str, str], float] = {}  # (component, what) -> when last logged


def configure(grace: float = SOURCE_FAILURE_GRACE, hung_after: float = HUNG_AFTER) -> None:
    _limits.grace, _limits.hung_after = grace, hung_after


def source_running(source: str) -> None:
    SOURCE_UP.labels(source).set(1)
    with _lock:
        _down.pop(source, None)


def source_down(source: str, error: str) -> None:
    SOURCE_UP.labels(source).set(0)
    with _lock:
        _down[source] = error


def source_failing(source: str, reason: str) -> None:
    """Marks the start of a failing streak (kept) and its latest reason (replaced)."""
    now = time.time()
    with _lock:
        since = _failing.get(source, (now, ""))[0]
        _failing[source] = (since, reason)


def source_ok(source: str) -> None:
    with _lock:
        _failing.pop(source, None)


def forget(source: str) -> None:
    """A source stopped on request: no longer anyone's concern."""
    with _lock:
        _failing.pop(source, None)
        _down.pop(source, None)


@contextlib.contextmanager
def in_flight(component: str, what: str) -> Iterator[None]:
    """Around one blocking request, so a hung one shows on ``/readyz`` before its timeout."""
    key = next(_ids)
    with _lock:
        _in_flight[key] = (component, what, time.time())
    try:
        yield
    finally:
        with _lock:
            _in_flight.pop(key, None)


def dependency(component: str, what: str, missing: bool, hint: str = "") -> None:
    """Say when something a component needs does not exist: a WARNING at once and every
    ``MISSING_REPEAT`` seconds while it lasts, a gauge, and a line when it appears."""
    key = (component, what)
    now = time.monotonic()
    with _lock:
        last = _missing.get(key)
        if missing and (last is None or now - last >= MISSING_REPEAT):
            _missing[key] = now
            log.warning("%s: %s does not exist; nothing is read from it. %s", component, what, hint)
        elif not missing and last is not None:
            del _missing[key]
            log.info("%s: %s exists now", component, what)
    DEPENDENCY_MISSING.labels(component, what).set(1 if missing else 0)


def problems(now: float | None = None) -> list[str]:
    """Why sources or dependencies make the job not ready; empty when none does."""
    now = time.time() if now is None else now
    found = []
    with _lock:
        for source, error in sorted(_down.items()):
            found.append(f"source {source} is down (restarting): {error}")
        for source, (since, reason) in sorted(_failing.items()):
            if now - since >= _limits.grace:
                found.append(f"source {source} failing for {now - since:.0f}s: {reason}")
        for component, what, started in sorted(_in_flight.values()):
            if now - started >= _limits.hung_after:
                found.append(f"{component}: {what} in flight for {now - started:.0f}s")
    return found


def reset() -> None:
    """For tests: forget everything."""
    with _lock:
        _failing.clear()
        _down.clear()
        _in_flight.clear()
        _missing.clear()
    configure()
