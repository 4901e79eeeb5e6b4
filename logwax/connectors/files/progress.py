"""A progress bar in the log while the files found at start-up are read through."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("logwax.connectors.files.source")
PROGRESS_EVERY_S = 5.0


class Backfill:
    """Bytes left of what was there at start-up, reported every ``PROGRESS_EVERY_S``."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._total = 0
        self._next = 0.0

    def start(self, backlog: int, now: float) -> None:
        self._total, self._next = backlog, now + PROGRESS_EVERY_S

    def report(self, backlog: Callable[[], int], now: float) -> None:
        if not self._total or now < self._next:
            return
        left = backlog()
        done = max(0, self._total - left)
        share = done / self._total
        bar = "#" * int(share * 20) + "-" * (20 - int(share * 20))
        log.info(
            "source=%s backfill [%s] %3.0f%% %.1f/%.1f MB",
            self._source,
            bar,
            share * 100,
            done / 1e6,
            self._total / 1e6,
        )
        if left == 0:
            self._total = 0  # done: no more progress lines
        self._next = now + PROGRESS_EVERY_S
