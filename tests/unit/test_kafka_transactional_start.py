"""The exactly-once sink partition's start runs beside the flow; what it raises must reach the
flow's thread at every use of the partition, not only the first; and a wake-up does not wait for
it, so that bytewax builds (and starts) the worker's other partitions meanwhile. And once the
open transaction holds the policy's bytes, it is committed."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest

from logwax.connectors.kafka import transactional
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.core import health
from logwax.core.errors import DeliveryError
from logwax.core.record import Record

CONFIG = KafkaSinkConfig(bootstrap_servers="127.0.0.1:9", topic="t", exactly_once=True)
RECORD = Record("t", "s", "e", 0, "m", {})


def partition(index: int) -> transactional._TransactionalPartition:
    return transactional._TransactionalPartition(
        CONFIG, "kafka", f"id-{index}", index, None, transactional.CommitPolicy()
    )


def test_a_failed_start_is_raised_at_every_use(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(self: object, _id: str, _resume: object) -> None:
        raise DeliveryError("start refused")

    monkeypatch.setattr(transactional._TransactionalPartition, "_start", refused)
    part = partition(0)
    for use in (lambda: part.write_batch([[RECORD]]), part.snapshot, part.close):
        with pytest.raises(DeliveryError, match="start refused"):
            use()


def test_a_wake_up_returns_while_the_start_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    release, started = threading.Event(), []

    def slow(self: transactional._TransactionalPartition, _id: str, _resume: object) -> None:
        started.append(self._partition)
        release.wait(10)
        raise DeliveryError("start refused")

    monkeypatch.setattr(transactional._TransactionalPartition, "_start", slow)
    begun = time.monotonic()
    parts = []
    for index in range(3):  # as bytewax builds each and hands it its wake-up in turn
        parts.append(partition(index))
        parts[-1].write_batch([[]])
    assert time.monotonic() - begun < 5 and not release.is_set()
    deadline = time.monotonic() + 5
    while len(started) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(started) == [0, 1, 2]  # all three starts run at once
    failed: list[BaseException] = []

    def write() -> None:  # records wait for the start, and get its failure
        try:
            parts[0].write_batch([[RECORD]])
        except DeliveryError as exc:
            failed.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    deadline = time.monotonic() + 5
    while not health._in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    waits = [line for line in health.problems(time.time() + 3600) if "producer start" in line]
    assert len(waits) == 1 and "sink kafka" in waits[0]  # the wait is named on /readyz
    release.set()
    writer.join(10)
    assert [str(exc) for exc in failed] == ["start refused"]


def test_a_transaction_holding_the_policy_bytes_is_committed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Transaction:  # what write_batch asks of the open transaction
        open, opened, held_bytes = False, 0.0, 0

        def fits(self, _items: list[bytes]) -> bool:
            return True

        def write(self, items: list[bytes]) -> None:
            self.open, self.opened = True, time.monotonic()
            self.held_bytes += sum(map(len, items))

    def started(self: transactional._TransactionalPartition, _id: str, _resume: object) -> None:
        self._skip, self._transaction = set(), Transaction()  # type: ignore[assignment]
        self._shaper = SimpleNamespace(  # type: ignore[assignment]
            shape_many=lambda records, _topic, _hint: [r.message.encode() for r in records]
        )

    commits: list[int] = []

    def commit(self: transactional._TransactionalPartition, _where: str) -> None:
        commits.append(self._transaction.held_bytes)
        self._transaction = Transaction()  # type: ignore[assignment]

    monkeypatch.setattr(transactional._TransactionalPartition, "_start", started)
    monkeypatch.setattr(transactional._TransactionalPartition, "_commit", commit)
    policy = transactional.CommitPolicy(after=timedelta(hours=1), full_batch=1, bytes=100)
    part = transactional._TransactionalPartition(CONFIG, "kafka", "id-0", 0, None, policy)
    forty = RECORD._replace(message="m" * 40)
    part.write_batch([[forty, forty]])
    assert commits == []  # 80 bytes held: not yet
    part.write_batch([[forty, forty]])
    assert commits == [160]
