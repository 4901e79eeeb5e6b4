"""Keys that keep a chunk on the worker that read it.

bytewax sends every item of a keyed step to the worker its key hashes to, and it has no
backpressure between workers within a snapshot interval: a source keeps reading while the
chunks it sends another process wait in that process's queue. With two processes, the collect
flow held 2.8 GB that way (one process read while the other deduplicated, batched and sent).
Sources already spread their partitions over workers, and the at-least-once sinks write from the
worker they run on, so nothing is gained by moving a chunk: here a key is given a suffix that
makes bytewax route it to the worker that computes it. Only the routing changes; what is keyed
(a stream for dedup, a bucket of streams for batching) stays the same on each worker.

bytewax 0.21 routes a stateful step's key with Rust's ``DefaultHasher`` (SipHash-1-3, zero keys)
over the key's bytes and a ``0xff`` terminator, modulo the worker count; ``siphash13`` is that
function, and ``tests/unit/test_locality.py`` runs a three-worker cluster to check the routes
still agree. A flow learns which worker a thread is from its ``WorkerIdentity``, an input bytewax
builds on every worker's own thread before any item flows (kept per flow: a thread id can be
reused by a later run's thread). ``spread`` hands the flow's inputs to workers in turn, so keeping
records where they are read still uses every worker.

With one worker (``logwax run``, the DaemonSet) keys are left as they are, so its snapshots are
unchanged. With several, a stream's dedup state follows the key its worker gives it: when a
restart moves a source partition to another worker, that stream's recent ids start afresh (the
sinks make replays harmless; dedup only removes repeats the sources make themselves), and the
ids under its old key stay in the snapshots, as those of a stream that ended do.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import DynamicSource, StatelessSourcePartition

_MASK = (1 << 64) - 1
IDENTITY_STEP = "worker_identity"


def _rotl(x: int, bits: int) -> int:
    return ((x << bits) | (x >> (64 - bits))) & _MASK


def siphash13(data: bytes, k0: int = 0, k1: int = 0) -> int:
    """SipHash-1-3 of ``data``: Rust's ``DefaultHasher`` with the keys ``BuildHasherDefault``
    gives it (both zero)."""
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def sip_round() -> None:
        nonlocal v0, v1, v2, v3
        v0 = (v0 + v1) & _MASK
        v1 = _rotl(v1, 13) ^ v0
        v0 = _rotl(v0, 32)
        v2 = (v2 + v3) & _MASK
        v3 = _rotl(v3, 16) ^ v2
        v0 = (v0 + v3) & _MASK
        v3 = _rotl(v3, 21) ^ v0
        v2 = (v2 + v1) & _MASK
        v1 = _rotl(v1, 17) ^ v2
        v2 = _rotl(v2, 32)

    whole = len(data) - len(data) % 8
    for start in range(0, whole, 8):
        m = int.from_bytes(data[start : start + 8], "little")
        v3 ^= m
        sip_round()
        v0 ^= m
    m = ((len(data) & 0xFF) << 56) | int.from_bytes(data[whole:], "little")
    v3 ^= m
    sip_round()
    v0 ^= m
    v2 ^= 0xFF
    for _ in range(3):
        sip_round()
    return v0 ^ v1 ^ v2 ^ v3


def bytewax_worker(key: str, worker_count: int) -> int:
    """The worker bytewax sends a stateful step's ``key`` to."""
    return siphash13(key.encode("utf-8") + b"\xff") % worker_count


@lru_cache(maxsize=65_536)
def _routed_to(key: str, worker: int, worker_count: int) -> str:
    salt = 0
    while True:
        candidate = f"{key}@{salt}"
        if bytewax_worker(candidate, worker_count) == worker:
            return candidate
        salt += 1  # each try hits with probability 1/worker_count


class _Nothing(StatelessSourcePartition[object]):
    def next_batch(self) -> list[object]:
        raise StopIteration


class WorkerIdentity(DynamicSource[object]):
    """An input that reads nothing: bytewax builds it on each worker's own thread, which
    records which worker that thread is, for the steps of the flow it is in."""

    def __init__(self) -> None:
        self._workers: dict[int, tuple[int, int]] = {}  # thread id → (index, count)

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Nothing:
        self._workers[threading.get_ident()] = (worker_index, worker_count)
        return _Nothing()

    def this_worker(self) -> tuple[int, int] | None:
        """(index, count) of the worker calling, if this flow's run built it on this thread."""
        return self._workers.get(threading.get_ident())

    def local_key(self, key: str) -> str:
        """``key``, suffixed so that bytewax routes it to the worker calling this (unchanged
        with one worker)."""
        worker = self.this_worker()
        if worker is None or worker[1] == 1:
            return key
        return _routed_to(key, worker[0], worker[1])

    def spread(self, parts: list[str], first: int) -> list[str]:
        """Of an input's ``parts``, those the calling worker lists (all of them when the worker
        is alone or unknown): part ``j`` goes to worker ``(first + j) % count``.

        bytewax balances each input on its own, so every single-partition input (a files or
        journald source) went to worker 0; with records kept where they are read, the other
        workers would idle. Giving the inputs of a flow consecutive ``first`` values spreads
        them. Each part is still listed by exactly one worker, which bytewax then makes its
        owner and hands its resume state, whatever the worker count of the run that stored it.
        """
        worker = self.this_worker()
        if worker is None or worker[1] == 1:
            return parts
        index, count = worker
        return [part for j, part in enumerate(parts) if (first + j) % count == index]


def know_workers(flow: Dataflow) -> WorkerIdentity:
    """The ``WorkerIdentity`` of ``flow``, added on the first call. Call it before adding the
    inputs that ``spread`` (bytewax builds steps in the order they were added)."""
    step_id = f"{flow.flow_id}.{IDENTITY_STEP}"
    for step in flow.substeps:
        if step.step_id == step_id:
            identity: WorkerIdentity = step.source  # type: ignore[attr-defined]
            return identity
    identity = WorkerIdentity()
    op.input(IDENTITY_STEP, flow, identity)
    return identity
