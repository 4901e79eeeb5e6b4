"""Start and stop server processes that outlive the command that started them.

The servers run in their own session so that Ctrl-C in ``make demo`` stops the demo but leaves
Kafka and Elasticsearch up for the next run, as the README promises.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Self

from devtools.errors import DevServerError
from devtools.home import pid_alive, runs


class Running:
    """Something a caller runs for itself in a ``with`` block (a proxy, a helper thread):
    started on entry and stopped on exit, a failing block included, so no test leaves one
    behind. Subclasses say only how to start and how to stop."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def spawn(
    args: list[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``args`` detached, output appended to ``log``; returns the pid."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            user=user,
            start_new_session=True,
        )
    return proc.pid


def wait_until(
    what: str, check: Callable[[], bool], timeout: float, alive: Callable[[], bool], log: Path
) -> float:
    """Poll ``check`` until true; fail fast if the process died. Returns seconds waited."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        if not alive():
            tail = _tail(log)
            raise DevServerError(f"{what} exited during start-up; last log lines:\n{tail}")
        if time.monotonic() - started > timeout:
            raise DevServerError(f"{what} not ready after {timeout:.0f}s; see {log}")
        time.sleep(0.25)


def terminate(pid: int | None, program: str, grace: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; quiet if already gone, and nothing at all
    if ``pid`` is not ``program`` any more (a recycled pid, see ``home.runs``)."""
    if pid is None or not runs(pid, program):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pid_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.2)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of a process in MiB, from /proc (None if it is gone)."""
    if not pid_alive(pid):
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None
