"""Graceful stop: SIGINT/SIGTERM make every source end its stream, so bytewax drains the
in-flight records through the sinks, takes a final snapshot and returns normally.

A second signal stops at once (recovery then replays from the last snapshot, losing nothing).

SIGUSR1 prints every Python thread's stack to stderr and the job goes on: what a job that
seems stuck is waiting for (a request, a lock, a sink), without stopping it.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)
_requested = threading.Event()
_timeout: float | None = None


def requested() -> bool:
    """Sources poll this in ``next_batch`` and raise ``StopIteration`` once it is set."""
    return _requested.is_set()


def request() -> None:
    _requested.set()


def reset() -> None:
    _requested.clear()


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if _requested.is_set():
        log.warning("signal=%s second stop request: exiting now", name)
        raise KeyboardInterrupt
    log.info("signal=%s stopping: draining sinks and taking a final snapshot", name)
    _requested.set()
    if _timeout is not None:
        timer = threading.Timer(_timeout, _give_up, args=(_timeout,))
        timer.daemon = True
        timer.start()


def _give_up(timeout: float) -> None:
    """The graceful stop is stuck (a sink that never answers): exit; recovery replays."""
    log.error("graceful stop took longer than %.0fs; exiting without the final snapshot", timeout)
    logging.shutdown()
    os._exit(1)


def install(timeout: float | None = None) -> None:
    """Route SIGINT and SIGTERM to a graceful stop (main thread only, as Python requires), and
    SIGUSR1 to a dump of every thread's stack."""
    global _timeout
    _timeout = timeout
    faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
