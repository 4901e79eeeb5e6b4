"""Matched files that are not open yet: empty, without a complete first line, or not grown
since they were closed as inactive.

Such a file is opened only by a scan, and scans run every ``scan_interval`` (10 s by default):
the first lines an application writes to a log file it has just created waited up to that long,
when an open file's lines wait at most ``poll_interval``. Measured: lines appended at 10,000/s to
a file that was empty at the scan were shipped 7 to 9.5 s late. So between scans the source
looks at these files' sizes every ``poll_interval`` while it is idle (one ``stat`` each), and
scans at once when one has grown. The watch is bounded (``MAX_WATCHED``): beyond it, the rest
wait for the scan as before.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_WATCHED = 1000


class Waiting:
    """Paths seen by the last scan but not opened, with the size they had then."""

    def __init__(self) -> None:
        self._sizes: dict[Path, int] = {}
        self._next_check = 0.0

    def clear(self) -> None:
        self._sizes.clear()

    def add(self, path: Path, size: int | None = None) -> None:
        if len(self._sizes) >= MAX_WATCHED:
            return
        if size is None:
            try:
                size = os.stat(path).st_size
            except OSError:
                return
        self._sizes[path] = size

    def grown(self, now: float, every: float) -> bool:
        """Whether one of them changed size; looks at most once per ``every`` seconds."""
        if not self._sizes or now < self._next_check:
            return False
        self._next_check = now + every
        for path, size in self._sizes.items():
            try:
                if os.stat(path).st_size != size:
                    return True
            except OSError:
                return True  # gone or replaced: the scan sorts it out
        return False
