"""SIGUSR1 prints every thread's stack and the process goes on (``shutdown.install``)."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import os, signal, threading, time
from logwax.core import shutdown

def waiting_for_a_sink():
    time.sleep(5)

threading.Thread(target=waiting_for_a_sink, name="sink", daemon=True).start()
shutdown.install()
time.sleep(0.1)
os.kill(os.getpid(), signal.SIGUSR1)
time.sleep(0.2)
print("still running")
"""


def test_sigusr1_dumps_every_threads_stack_and_the_job_goes_on() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "still running"
    assert "most recent call first" in done.stderr
    assert "waiting_for_a_sink" in done.stderr  # the other thread's stack too
