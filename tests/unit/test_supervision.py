"""The shared retry path, the supervisor of source threads and what /readyz makes of them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from kubernetes.client.exceptions import ApiException
from prometheus_client import REGISTRY

from logwax.connectors.kubernetes_api import classify
from logwax.core import health, observability
from logwax.core.retry import Backoff, Retrier
from logwax.core.supervisor import Supervised


@pytest.fixture(autouse=True)
def _clean_health() -> Iterator[None]:
    health.reset()
    yield
    health.reset()


def test_backoff_doubles_with_jitter_within_half_and_full_step_and_is_capped() -> None:
    for rand in (0.0, 0.999):
        backoff = Backoff(0.5, 8.0, rand=lambda r=rand: r)
        delays = [backoff.next() for _ in range(8)]
        steps = [0.5, 1, 2, 4, 8, 8, 8, 8]
        assert all(s / 2 <= d <= s for d, s in zip(delays, steps, strict=True))
    backoff = Backoff(0.5, 8.0, rand=lambda: 0.0)
    assert backoff.next(retry_after=20) == 20  # the server's Retry-After wins when longer
    backoff.reset()
    assert backoff.next() == 0.25


def test_attempts_per_minute_are_bounded_by_the_cap() -> None:
    backoff = Backoff(0.5, 30.0, rand=lambda: 0.0)  # the shortest delays jitter can give
    spent, attempts = 0.0, 0
    while spent < 600:
        spent += backoff.next()
        attempts += 1
    assert attempts <= 60  # ~4 per minute once capped, a few more while it grows


def test_retrier_counts_per_reason_and_marks_the_source_failing_until_success() -> None:
    stopped = threading.Event()
    stopped.set()  # no real waiting in a unit test
    retrier = Retrier("unit-src", stopped, initial=0.01, maximum=0.02)
    before = REGISTRY.get_sample_value(
        "logwax_source_retries_total", {"source": "unit-src", "reason": "forbidden"}
    )
    retrier.failed("forbidden", "HTTP 403 events is forbidden")
    after = REGISTRY.get_sample_value(
        "logwax_source_retries_total", {"source": "unit-src", "reason": "forbidden"}
    )
    assert (after or 0) == (before or 0) + 1
    health.configure(grace=0.0)
    assert any("unit-src failing" in p and "forbidden" in p for p in health.problems())
    retrier.succeeded()
    assert health.problems() == []


def test_a_failing_source_is_ready_within_its_grace_and_not_after() -> None:
    health.configure(grace=60.0)
    health.source_failing("s", "connection: refused")
    now = time.time()
    assert health.problems(now + 30) == []
    assert health.problems(now + 61) == ["source s failing for 61s: connection: refused"]


def test_a_hung_request_counts_before_the_client_times_out() -> None:
    health.configure(hung_after=5.0)
    with health.in_flight("sink es", "bulk of 10 documents"):
        assert health.problems(time.time() + 1) == []
        hung = health.problems(time.time() + 6)
        assert hung == ["sink es: bulk of 10 documents in flight for 6s"]
    assert health.problems(time.time() + 6) == []


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_a_dying_thread_is_reported_at_once_restarted_and_given_up_on_after_n() -> None:
    stopped = threading.Event()
    runs: list[float] = []
    release = threading.Event()
    gave_up: list[str] = []

    def body() -> None:
        runs.append(time.monotonic())
        if len(runs) == 1:
            release.wait(5)
        raise PermissionError("forbidden to list")

    supervised = Supervised(
        "sup-src",
        "sup-thread",
        body,
        stopped,
        max_failures=3,
        backoff=Backoff(0.01, 0.02),
        give_up=lambda source, error: gave_up.append(f"{source}: {error}"),
    )
    supervised.start()
    wait_for(lambda: len(runs) == 1)
    assert REGISTRY.get_sample_value("logwax_source_up", {"source": "sup-src"}) == 1
    assert observability.readiness(10, now=observability.STARTED) == []
    release.set()
    wait_for(lambda: bool(gave_up))
    assert len(runs) == 3  # restarted twice, then given up on
    assert gave_up == ["sup-src: PermissionError: forbidden to list"]
    assert REGISTRY.get_sample_value("logwax_source_up", {"source": "sup-src"}) == 0
    assert observability.readiness(10, now=observability.STARTED) == [
        "source sup-src is down (restarting): PermissionError: forbidden to list"
    ]


def test_a_stop_ends_the_thread_without_a_restart() -> None:
    stopped = threading.Event()
    runs: list[int] = []

    def body() -> None:
        runs.append(1)
        stopped.wait(5)

    supervised = Supervised("stop-src", "stop-thread", body, stopped, give_up=lambda *_: None)
    supervised.start()
    wait_for(lambda: bool(runs))
    stopped.set()
    supervised.thread.join(5)
    assert not supervised.thread.is_alive() and runs == [1]
    assert health.problems() == []


def test_kubernetes_answers_are_classified_with_the_servers_message() -> None:
    forbidden = ApiException(status=403, reason="Forbidden")
    forbidden.body = json.dumps({"message": 'events is forbidden: cannot list resource "events"'})
    assert classify(forbidden) == (
        "forbidden",
        'HTTP 403 events is forbidden: cannot list resource "events"',
        None,
    )
    throttled = ApiException(status=429, reason="Too Many Requests")
    throttled.headers = {"Retry-After": "7"}
    assert classify(throttled) == ("throttled", "HTTP 429 Too Many Requests", 7.0)
    assert classify(ApiException(status=503, reason="Unavailable"))[0] == "server_error"
    assert classify(ApiException(status=401, reason="Unauthorized"))[0] == "unauthorized"


def test_a_journalctl_that_cannot_be_spawned_is_retried_not_the_end_of_the_flow(
    tmp_path: object,
) -> None:
    from logwax.connectors.journald import JournaldSource, JournaldSourceConfig

    config = JournaldSourceConfig(
        type="journald", name="jd-spawn", journalctl="/nonexistent/journalctl"
    )
    part = JournaldSource(config).build_part("s", "jd-spawn", None)
    try:
        assert part.next_batch() == []
        labels = {"source": "jd-spawn", "reason": "spawn"}
        assert (REGISTRY.get_sample_value("logwax_source_retries_total", labels) or 0) >= 1
        health.configure(grace=0.0)
        assert any("jd-spawn" in p and "spawn" in p for p in health.problems())
    finally:
        part.close()
