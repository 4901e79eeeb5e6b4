"""glibc malloc settings for a process that frees a batch of records and then builds the next.

A batch's JSON values and read blocks are larger than CPython's own small-object allocator
takes (512 bytes), so they come from glibc's ``malloc``. When a batch is freed, the heap's top
is free, and glibc gives it back to the kernel as soon as more than 128 KiB is free there
(``M_TRIM_THRESHOLD``); the next batch then faults the same pages in again. Measured with
``perf stat`` on the collect flow, file → Kafka, 1,000,000 lines, one process, runs
interleaved: 385,000-750,000 page faults with glibc's defaults; with the top kept and the heap
grown in steps, 34,000-37,000 (4 to 32 MiB kept) and 60,000-63,000 with the values below, and
3-10 % less time (8.5-9.2 s against 8.3-8.5 s). 16 MiB, in steps of 8 MiB, leaves room for
batches of longer lines. The cost is up to 24 MiB of freed memory a process keeps for its next
batch rather than returning it: with 32 MiB and 16 MiB steps, the two-process index flow's
peak was 286-303 MB in ``make bench``.

Users who set glibc's own variables (``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_``) keep
them; on a C library without ``mallopt`` (musl, macOS) nothing changes.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

# mallopt parameter numbers, from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
TRIM_THRESHOLD_BYTES = 16 << 20
TOP_PAD_BYTES = 8 << 20
USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_heap_top() -> bool:
    """Apply the settings above; True when glibc took them."""
    if any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter itself runs on
    except (OSError, AttributeError):
        return False
    trim: int = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    pad: int = mallopt(M_TOP_PAD, TOP_PAD_BYTES)
    took = trim == 1 and pad == 1
    if not took:
        log.debug("the C library refused mallopt; its default heap trimming stays")
    return took
