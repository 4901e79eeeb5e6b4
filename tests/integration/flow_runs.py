"""Running ``logwax run`` in its own process, and counting what reached the sinks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from elasticsearch import ApiError, Elasticsearch, helpers

from devtools.home import free_port
from tests.integration import kafka_helpers
from tests.integration.kafka_helpers import read_all

_T = TypeVar("_T")

# Every process a test starts, so the suite can kill what a failing test left running.
STARTED: list[subprocess.Popen[bytes]] = []


def kill_leftovers() -> None:
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start(
    config: Path, tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``logwax run -c config``, returned once it runs the flow (and handles SIGTERM)."""
    log_path = tmp_path / "logwax.log"
    runs_before = log_path.read_text().count(" started workers=") if log_path.exists() else 0
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "logwax", "run", "-c", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
    )
    STARTED.append(proc)
    wait_for(
        "the flow to start",
        lambda: log_path.read_text().count(" started workers=") > runs_before,
        proc,
        log_path,
        timeout=60,
        poll=0.05,
    )
    return proc


def crash_after_commit(
    config: Path, tmp_path: Path, commit: str = "1", timeout: float = 120
) -> None:
    """Run until the process SIGKILLs itself right after its ``commit``-th Kafka commit
    (``"N"``, or ``"batch:N"`` for commits made inside ``write_batch``), before bytewax stored
    the epoch: the window the exactly-once read-back exists for."""
    from logwax.connectors.kafka.transactional import CRASH_AFTER_COMMIT_ENV

    proc = start(config, tmp_path, env={CRASH_AFTER_COMMIT_ENV: commit})
    code = proc.wait(timeout=timeout)
    tail = (tmp_path / "logwax.log").read_text()[-3000:]
    assert code == -signal.SIGKILL, f"exited {code}, not killed after commit {commit}:\n{tail}"


def launch(
    config: Path, tmp_path: Path, *options: str, extra: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    """``logwax [options] run -c config [extra]`` at once, without waiting for the flow (which
    may be waiting for a broker that refuses it); output appended to ``logwax.log``."""
    log = open(tmp_path / "logwax.log", "ab")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "logwax", *options, "run", "-c", str(config), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    STARTED.append(proc)
    return proc


def http_get(url: str) -> tuple[int, str]:
    """Status and body of a GET, an error status included (``/readyz`` answers 503)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def served(port: int, path: str) -> tuple[int, str]:
    """``/readyz`` or ``/metrics`` of a run started with ``--metrics-port``: status and body."""
    return http_get(f"http://127.0.0.1:{port}{path}")


def launch_watched(
    config: Path, tmp_path: Path, *options: str
) -> tuple[subprocess.Popen[bytes], Path, int]:
    """``launch`` with a metrics port: the process, its log and the port, for tests that read
    ``/readyz`` and ``/metrics`` while the run waits out a fault."""
    port = free_port()
    proc = launch(config, tmp_path, *options, extra=("--metrics-port", str(port)))
    return proc, tmp_path / "logwax.log", port


def logwax_command(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A one-shot ``logwax`` command (check, validate, status) in its own process, as an
    operator would type it; its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "logwax", *args], capture_output=True, text=True, timeout=timeout
    )


def logwax_check(config: Path, timeout: float = 120) -> tuple[int, str]:
    """``logwax check -c config``: its exit code and all it printed (stdout, then stderr)."""
    done = logwax_command("check", "-c", str(config), timeout=timeout)
    return done.returncode, done.stdout + done.stderr


def assert_each_once(ids: Counter[str], total: int) -> None:
    """Exactly once: ``total`` distinct event ids, none of them twice."""
    assert len(ids) == total and max(ids.values()) == 1


def assert_unseen(outputs: list[str], *secrets: str) -> None:
    """No secret in anything a user can see (logs, endpoints, command output)."""
    for shown in outputs:
        for secret in secrets:
            assert secret not in shown


def es_messages(es: Elasticsearch, index_prefix: str) -> Counter[str]:
    es.indices.refresh(index=f"{index_prefix}-*", allow_no_indices=True)
    found: Counter[str] = Counter()
    for hit in _scan(es, f"{index_prefix}-*"):
        found[hit["_source"]["message"]] += 1
    return found


def _scan(es: Elasticsearch, index: str) -> list[dict[str, Any]]:
    return list(helpers.scan(es, index=index, query={"query": {"match_all": {}}}, size=5000))


def es_count(es: Elasticsearch, index_prefix: str) -> int:
    """Documents searchable now; 0 while a just-created index still allocates its shard."""
    try:
        es.indices.refresh(index=f"{index_prefix}-*", allow_no_indices=True)
        return int(es.count(index=f"{index_prefix}-*", allow_no_indices=True)["count"])
    except ApiError as exc:
        if exc.meta.status == 503:
            return 0
        raise


def wait_for(
    what: str,
    check: Callable[[], bool],
    proc: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 120,
    poll: float = 0.5,
    found: Callable[[], object] | None = None,
) -> None:
    """Poll ``check`` until it holds; a timeout says ``found()`` (what there was instead)."""
    deadline = time.monotonic() + timeout
    while not _checked(check):
        if proc.poll() is not None:
            raise AssertionError(f"logwax exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            instead = f" (found {_checked(found)})" if found is not None else ""
            raise AssertionError(f"timed out waiting for {what}{instead}:\n{_stuck(proc, log)}")
        time.sleep(poll)


def _stuck(proc: subprocess.Popen[bytes], log: Path) -> str:
    """The log's tail after asking a logwax process still running for its threads' stacks
    (SIGUSR1): what it waited for is the first thing a timed-out test needs."""
    size = log.stat().st_size if log.exists() else 0
    if proc.poll() is None and proc.args[1:3] == ["-m", "logwax"]:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(1)
    data = log.read_bytes() if log.exists() else b""
    before = data[max(0, size - 3000) : size].decode(errors="replace")
    stacks = data[size:][-12000:].decode(errors="replace")
    return f"{before}\n--- stacks (SIGUSR1) ---\n{stacks}"


def kafka_messages(kafka_config: dict[str, Any], topic: str) -> Counter[str]:
    return Counter(json.loads(m.value())["message"] for m in read_all(kafka_config, topic))


def es_event_ids(es: Elasticsearch, index_prefix: str) -> Counter[str]:
    es.indices.refresh(index=f"{index_prefix}-*", allow_no_indices=True)
    return Counter(hit["_source"]["event"]["id"] for hit in _scan(es, f"{index_prefix}-*"))


def kill_and_restart_until(
    thresholds: list[int],
    count: Callable[[], int],
    config: Path,
    tmp_path: Path,
    between: Callable[[int], None] = lambda _kill: None,
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """Start logwax, SIGKILL it once ``count()`` passes each threshold.

    Returns the last (running) process and what ``count()`` said right after each kill, so a
    test can show the kills really fell mid-stream.
    """
    log = tmp_path / "logwax.log"
    at_kill = []
    for kill, threshold in enumerate(thresholds):
        proc = start(config, tmp_path)
        wait_for(f"{threshold} records", lambda t=threshold: count() >= t, proc, log, poll=0.05)
        proc.kill()
        proc.wait()
        at_kill.append(count())
        between(kill)
    return start(config, tmp_path), at_kill


def has_resume_point(recovery: Path) -> bool:
    """bytewax completed an epoch with a source snapshot, so a restart resumes, not restarts."""
    import sqlite3

    for part in recovery.glob("part-*.sqlite3"):
        with contextlib.closing(sqlite3.connect(part, timeout=5)) as db:
            frontier = db.execute("SELECT max(worker_frontier) FROM fronts").fetchone()[0]
            sources = db.execute(
                "SELECT count(*) FROM snaps WHERE step_id LIKE '%source%'"
            ).fetchone()[0]
            if frontier is not None and frontier >= 2 and sources > 0:
                return True
    return False


def kill_after_a_snapshot(
    config: Path, tmp_path: Path, recovery: Path, count: Callable[[], int], lines: int
) -> None:
    """Start logwax and SIGKILL it once ``count()`` reaches ``lines`` and a snapshot holds a
    resume point: killed before one, a restart starts over and the kill tests no resuming."""
    proc = start(config, tmp_path)
    wait_for(
        f"{lines} lines and a snapshot",
        lambda: count() >= lines and has_resume_point(recovery),
        proc,
        tmp_path / "logwax.log",
        poll=0.05,
    )
    proc.kill()
    proc.wait()


def kill_at_random_moments(
    config: Path,
    tmp_path: Path,
    kills: int,
    seed: int,
    earliest: float = 0.5,
    latest: float = 3.0,
    during: Callable[[int], None] = lambda _kill: None,
) -> tuple[subprocess.Popen[bytes], list[float]]:
    """Run, SIGKILL after a random delay, restart, ``kills`` times; returns the last run.

    The delays (seeded, so a failure can be replayed) fall anywhere in the flow's life: before
    its first snapshot, inside one, between a Kafka commit and bytewax storing the epoch.
    """
    import random

    rng = random.Random(seed)
    delays = []
    for kill in range(kills):
        proc = start(config, tmp_path)
        delay = rng.uniform(earliest, latest)
        time.sleep(delay)
        if proc.poll() is not None:
            raise AssertionError(
                f"logwax exited {proc.returncode} before kill {kill}:\n"
                f"{(tmp_path / 'logwax.log').read_text()[-3000:]}"
            )
        proc.kill()
        proc.wait()
        delays.append(round(delay, 2))
        during(kill)
    return start(config, tmp_path), delays


def kafka_event_ids(kafka_config: dict[str, Any], topic: str) -> Counter[str]:
    """Event ids a read_committed consumer sees in the whole topic."""
    found: Counter[str] = Counter()
    for message in read_all(kafka_config, topic):
        for key, value in message.headers() or []:
            if key == "event_id" and isinstance(value, bytes):
                found[value.decode()] += 1
    return found


def stop_gracefully(proc: subprocess.Popen[bytes], log: Path | None = None) -> None:
    """SIGTERM, as Kubernetes stops a pod; logwax must drain, snapshot and exit 0 in time."""
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=60)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    assert code == 0, f"logwax exited {code} after SIGTERM:\n{tail}"


@contextlib.contextmanager
def opened_partition(source: Any, key: str, resume: Any = None) -> Iterator[Any]:
    """``source.build_part`` as bytewax calls it, closed (threads and children stopped) after."""
    part = source.build_part("step", key, resume)
    try:
        yield part
    finally:
        part.close()


def read_partition(part: Any, want: int, timeout: float = 30) -> list[Any]:
    """Poll a source partition the way bytewax does until ``want`` items came or time ran out."""
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        batch = part.next_batch()
        got.extend(batch)
        if not batch:
            time.sleep(0.05)
    return got


def wait_delivered(
    proc: subprocess.Popen[bytes],
    log: Path,
    total: int,
    *,
    es: Elasticsearch | None = None,
    prefix: str | None = None,
    kafka_config: dict[str, Any] | None = None,
    topic: str | None = None,
    timeout: float = 300,
) -> None:
    """Wait until Elasticsearch (``prefix``) and/or Kafka (``topic``, read_committed) hold
    ``total`` records, failing at once if logwax exits."""
    if es is not None and prefix is not None:
        wait_for(
            f"{total} documents in Elasticsearch",
            lambda: es_count(es, prefix) >= total,
            proc,
            log,
            timeout=timeout,
            found=lambda: es_count(es, prefix),
        )
    if kafka_config is not None and topic is not None:
        wait_for(
            f"{total} records in Kafka",
            lambda: sum(kafka_event_ids(kafka_config, topic).values()) >= total,
            proc,
            log,
            timeout=timeout,
            poll=2,
            found=lambda: sum(kafka_event_ids(kafka_config, topic).values()),
        )


def _checked(check: Callable[[], _T]) -> _T:
    """A wait loop's poll: Kafka reads in it do not wait for transaction markers (it polls
    again), see ``kafka_helpers.polling``."""
    with kafka_helpers.polling():
        return check()
