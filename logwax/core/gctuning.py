"""Garbage-collector settings for a process that builds millions of short-lived records.

CPython's cyclic collector runs a young-generation pass every 700 new container objects, and
every record is several (a tuple and its field dicts). Profiling the collect flow showed the
pauses landing on record construction; the records themselves hold no cycles and die by
reference counting. Collecting less often, and freezing what exists at start-up (modules,
config) out of every later pass, removes that cost without letting cycles pile up for long.

The exactly-once sink keeps a transaction's records (tens of thousands) until its commit, so
every young pass found most of its objects alive and moved them on, and the older passes then
walked them again. A young pass every 200,000 new objects rather than 50,000: exactly once,
1,000,000 lines, perf stat, 11.7-11.8 s became 10.3-10.6 s (the collector off: 10.4-10.6 s);
at least once was within noise either way.

The same start-up also keeps glibc from handing each freed batch back to the kernel (see
``allocator``).
"""

from __future__ import annotations

import gc

from logwax.core import allocator

YOUNG_THRESHOLD = 200_000


def tune() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    allocator.keep_heap_top()
