"""Runs a source's reading thread and restarts it whenever it ends without being asked to.

A thread that dies leaves its queue empty, and an empty queue looks exactly like a quiet
source: the flow keeps running and ships nothing. So the thread's body runs inside a loop that
catches whatever ends it: ``logwax_source_up`` drops to 0, ``/readyz`` names the source and the
error at once, and the body runs again after a backoff. The body resumes from its own state,
which only ever holds the last position it handed on. ``MAX_FAILURES`` ends in a row (a run that
lasted ``STABLE_AFTER`` seconds resets the count) exit the process non-zero, so that the
orchestrator restarts the pod and the flow resumes from its last snapshot.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from logwax.core import health
from logwax.core.metrics import SOURCE_RESTARTS
from logwax.core.retry import Backoff

log = logging.getLogger(__name__)
MAX_FAILURES = 5
STABLE_AFTER = 60.0
EXIT_CODE = 70  # EX_SOFTWARE


def exit_process(source: str, error: str) -> None:
    log.critical(
        "source=%s thread failed %d times in a row (last: %s); exiting so the pod is restarted",
        source,
        MAX_FAILURES,
        error,
    )
    logging.shutdown()
    os._exit(EXIT_CODE)


class Supervised:
    """One supervised thread of a source; ``body`` returns or raises only on stop or failure."""

    def __init__(
        self,
        source: str,
        name: str,
        body: Callable[[], None],
        stopped: threading.Event,
        *,
        max_failures: int = MAX_FAILURES,
        stable_after: float = STABLE_AFTER,
        backoff: Backoff | None = None,
        give_up: Callable[[str, str], None] = exit_process,
    ) -> None:
        self._source, self._body, self._stopped = source, body, stopped
        self._max_failures, self._stable_after = max_failures, stable_after
        self._backoff = backoff or Backoff(1.0, 30.0)
        self._give_up = give_up
        self.failures = 0
        self.thread = threading.Thread(target=self._run, daemon=True, name=name)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            health.source_running(self._source)
            started = time.monotonic()
            failure: BaseException | None = None
            try:
                self._body()
                error = "thread ended without being asked to stop"
            except BaseException as exc:  # whatever ends the thread is reported
                failure, error = exc, f"{type(exc).__name__}: {exc}"
            if self._stopped.is_set():
                break
            if time.monotonic() - started >= self._stable_after:
                self.failures = 0
                self._backoff.reset()
            self.failures += 1
            health.source_down(self._source, error)
            SOURCE_RESTARTS.labels(self._source).inc()
            log.error(
                "source=%s thread=%s ended (%d in a row): %s",
                self._source,
                self.thread.name,
                self.failures,
                error,
                exc_info=failure,
            )
            if self.failures >= self._max_failures:
                self._give_up(self._source, error)
                return
            self._stopped.wait(self._backoff.next())
        health.forget(self._source)
