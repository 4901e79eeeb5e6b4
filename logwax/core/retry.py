"""The one retry path every source call goes through: capped exponential backoff with jitter.

A source never decides on its own how long to wait or whether to give up: each failed call is
one ``Retrier.failed`` (a WARNING with the server's reason, a counter per reason, the source
marked failing for ``/readyz``, then a wait), each success one ``Retrier.succeeded``. The delay
is bounded below (half the current step) so that attempts per minute stay bounded however the
jitter falls, and bounded above so that a long outage is noticed soon after it ends.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from logwax.core import health
from logwax.core.metrics import SOURCE_RETRIES

log = logging.getLogger(__name__)
RETRY_AFTER_MAX = 300.0  # a server asking for more than this is waited for in several steps


class Backoff:
    """Doubling steps from ``initial`` to ``maximum``; each delay is in [step/2, step]."""

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._initial, self._maximum, self._rand = initial, maximum, rand
        self.attempt = 0

    def next(self, retry_after: float | None = None) -> float:
        step = min(self._maximum, self._initial * 2.0 ** min(self.attempt, 32))
        self.attempt += 1
        delay = step / 2 + self._rand() * step / 2
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, RETRY_AFTER_MAX))
        return delay

    def reset(self) -> None:
        self.attempt = 0


class Retrier:
    """Waits between attempts of one source's calls, and says so in logs, metrics and health."""

    def __init__(
        self,
        source: str,
        stopped: threading.Event,
        initial: float = 0.5,
        maximum: float = 30.0,
    ) -> None:
        self._source = source
        self._stopped = stopped
        self.backoff = Backoff(initial, maximum)
        self._failing = False

    def failed(self, reason: str, detail: str, retry_after: float | None = None) -> float:
        """Count, log and wait (or return early on stop); returns the delay chosen."""
        delay = self.backoff.next(retry_after)
        SOURCE_RETRIES.labels(self._source, reason).inc()
        health.source_failing(self._source, f"{reason}: {detail}")
        self._failing = True
        log.warning(
            "source=%s attempt=%d failed reason=%s: %s; retrying in %.1fs",
            self._source,
            self.backoff.attempt,
            reason,
            detail,
            delay,
        )
        self._stopped.wait(delay)
        return delay

    def succeeded(self) -> None:
        """Called after every successful call: cheap unless a failing streak just ended."""
        if not self._failing:
            return
        self._failing = False
        if self.backoff.attempt:
            log.info(
                "source=%s recovered after %d failed attempts", self._source, self.backoff.attempt
            )
        self.backoff.reset()
        health.source_ok(self._source)
