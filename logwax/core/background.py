"""Start-up work run beside the flow's thread, its outcome handed back as a future.

Daemon threads, not a pool: a start that waits out a refused credential or ACL (diagnosis) must
not hold the process's exit, as a pool's worker would at interpreter shutdown. A semaphore keeps
a topic with many partitions from opening them all at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

PARALLEL_STARTS = 8
_starts = threading.BoundedSemaphore(PARALLEL_STARTS)


def in_background(name: str, start: Callable[[], None]) -> Future[None]:
    """``start`` in a thread named ``name``; what it raises is the future's, for the caller's
    thread to raise at its first use."""
    future: Future[None] = Future()

    def run() -> None:
        with _starts:
            try:
                start()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(None)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
