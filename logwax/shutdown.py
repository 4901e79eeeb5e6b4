"""Graceful stop: SIGINT/SIGTERM make every source end its stream, so bytewax drains the
in-flight records through the sinks, takes a final snapshot and returns normally.

A second signal stops at once (recovery then replays from the last snapshot, losing nothing).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)
_requested = threading.Event()


def requested() -> bool:
    """Sources poll this in ``next_batch`` and raise ``StopIteration`` once it is set."""
    return _requested.is_set()


def request() -> None:
    _requested.set()


def reset() -> None:
    _requested.clear()


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    if _requested.is_set():
        log.warning("signal=%s second stop request: exiting now", signal.Signals(signum).name)
        raise KeyboardInterrupt
    log.info(
        "signal=%s stopping: draining sinks and taking a final snapshot",
        signal.Signals(signum).name,
    )
    _requested.set()


def install() -> None:
    """Route SIGINT and SIGTERM to a graceful stop (main thread only, as Python requires)."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
