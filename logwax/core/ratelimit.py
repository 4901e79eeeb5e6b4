"""A token bucket sources consult before handing records on, so collection never starves the
host (the seeds' log agent limits lines per second the same way).

Sources ask for as many records as they would like and hand on only what the bucket grants;
what they did not take stays where it was (unread in the file, in journalctl's pipe, in the
watch queue), so the snapshot never runs ahead of what was emitted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from logwax.core.metrics import RATE_LIMITED


class TokenBucket:
    def __init__(
        self, per_second: float | None, source: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_second
        self._capacity = max(1.0, per_second or 0.0)
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()
        self._waited = RATE_LIMITED.labels(source)

    def grant(self, wanted: int) -> int:
        """How many of ``wanted`` records may go now (all of them without a limit)."""
        if self._rate is None:
            return wanted
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        return granted

    def next_token(self) -> datetime | None:
        """When at least one record may go again, for ``next_awake``; None without a limit."""
        if self._rate is None or self._tokens >= 1:
            return None
        wait = (1 - self._tokens) / self._rate
        self._waited.inc(wait)
        return datetime.now(UTC) + timedelta(seconds=wait)
