"""glibc keeps a freed batch's memory for the next batch (``allocator``) rather than handing it
back to the kernel and faulting it in again."""

from __future__ import annotations

import os
import subprocess
import sys

# 6 MiB of values too large for CPython's small-object allocator, freed as a batch is; prints
# how much of it the process gave back to the kernel, in MiB.
PROGRAM = """
import os, sys
from logwax.core import allocator

took = allocator.keep_heap_top() if sys.argv[1] == "tuned" else None

def resident_mib():  # os.read: a file object's buffer would sit on the heap's top itself
    statm = os.open("/proc/self/statm", os.O_RDONLY)
    pages = int(os.read(statm, 200).split()[1])
    os.close(statm)
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20

batch = [bytes(2000) + i.to_bytes(4, "little") for i in range(3000)]
held = resident_mib()
del batch
print(took, round(held - resident_mib(), 1))
"""


def given_back(mode: str, **env: str) -> tuple[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={**os.environ, **env},
    )
    took, mib = done.stdout.split()
    return took, float(mib)


def test_a_freed_batch_stays_with_the_process_for_the_next_one() -> None:
    assert given_back("default")[1] > 4  # glibc's default: the heap's free top goes back
    assert given_back("tuned") == ("True", 0.0)


def test_the_users_own_glibc_settings_win() -> None:
    took, mib = given_back("tuned", MALLOC_TRIM_THRESHOLD_="131072")
    assert took == "False"
    assert mib > 4
