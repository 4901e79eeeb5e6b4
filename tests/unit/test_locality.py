"""Chunks stay on the worker that read them (``logwax.steps.locality``), checked in a real
three-worker bytewax cluster: a worker that read one process's chunks while another deduplicated
and batched them held 2.8 GB in bytewax's exchange."""

from __future__ import annotations

import threading
from collections import defaultdict

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.testing import cluster_main

from logwax.core.record import Record
from logwax.flows.pipeline import batcher, deduplicated
from logwax.settings import PipelineConfig, parse_config
from logwax.steps.chunks import ChunkedSource
from logwax.steps.locality import WorkerIdentity, bytewax_worker, know_workers, siphash13

WORKERS = 3
PARTS = [f"part-{n}" for n in range(6)]
STREAMS_PER_PART = 4


def config() -> PipelineConfig:
    return parse_config(
        {
            "sources": [{"type": "files", "name": "f", "include": ["/nowhere/*.log"]}],
            "kafka": {"bootstrap_servers": "127.0.0.1:9", "topic": "t"},
        },
        "test",
    )


class _Part(StatefulSourcePartition[Record, None]):
    """Emits one chunk per stream of its partition once, noting which thread read it."""

    def __init__(self, part: str, read_on: dict[str, int]) -> None:
        self._streams = [f"/var/log/{part}/{n}.log" for n in range(STREAMS_PER_PART)]
        self._read_on = read_on
        self._done = False

    def next_batch(self) -> list[list[Record]]:
        if self._done:
            raise StopIteration
        self._done = True
        chunks = []
        for stream in self._streams:
            self._read_on[stream] = threading.get_ident()
            chunks.append([Record("t", stream, f"{stream}#{n}", 0, "m", {}) for n in range(3)])
        return chunks

    def snapshot(self) -> None:
        return None


class _Parts(FixedPartitionedSource[list[Record], None]):
    def __init__(self, read_on: dict[str, int]) -> None:
        self._read_on = read_on

    def list_parts(self) -> list[str]:
        return PARTS

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Part:
        return _Part(for_part, self._read_on)


def test_siphash13_is_rusts_default_hasher_over_a_str() -> None:
    # Printed by Rust: BuildHasherDefault::<DefaultHasher>::default(), s.to_string().hash(h).
    expected = {
        "": 3476900567878811119,
        "a": 8186225505942432243,
        "hello world stream 0": 10708416226650265349,
        "/var/log/pods/ns_pod_uid/c/0.log@17": 6357818351863488567,
    }
    for text, value in expected.items():
        assert siphash13(text.encode() + b"\xff") == value
    assert siphash13(b"") == 15130871412783076140  # h.write(&[]) alone


def test_bytewax_routes_a_key_where_bytewax_worker_says() -> None:
    """The routing the locality keys rely on: if bytewax changes its hash, this fails."""
    keys = [f"/var/log/pods/ns_{n}/c/0.log" for n in range(40)]
    landed: dict[str, int] = {}
    thread_to_worker: dict[int, int] = {}
    flow = Dataflow("routes")
    identity = know_workers(flow)
    source = op.input("in", flow, _ListOnWorkerZero(keys))
    keyed = op.key_on("key", source, lambda key: key)

    def note(state: None, key: str) -> tuple[None, str]:
        landed[key] = threading.get_ident()
        worker = identity.this_worker()
        assert worker is not None
        thread_to_worker[threading.get_ident()] = worker[0]
        return None, key

    op.inspect("seen", op.stateful_map("where", keyed, note), lambda _s, _kv: None)
    cluster_main(flow, [], 0, worker_count_per_proc=WORKERS)

    workers = {key: thread_to_worker[thread] for key, thread in landed.items()}
    assert workers == {key: bytewax_worker(key, WORKERS) for key in keys}
    assert set(workers.values()) == set(range(WORKERS))  # the keys do spread


class _ListOnWorkerZero(FixedPartitionedSource[str, None]):
    def __init__(self, items: list[str]) -> None:
        self._items = items

    def list_parts(self) -> list[str]:
        return ["only"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Once:
        return _Once(self._items)


class _Once(StatefulSourcePartition[str, None]):
    def __init__(self, items: list[str]) -> None:
        self._items: list[str] | None = items

    def next_batch(self) -> list[str]:
        if self._items is None:
            raise StopIteration
        items, self._items = self._items, None
        return items

    def snapshot(self) -> None:
        return None


def test_dedup_and_batching_run_on_the_worker_that_read_the_chunk() -> None:
    read_on: dict[str, int] = {}
    deduplicated_on: dict[str, set[int]] = defaultdict(set)
    batched_on: dict[str, set[int]] = defaultdict(set)
    flow = Dataflow("local")
    identity = know_workers(flow)
    records = op.input("in", flow, _Parts(read_on))
    unique = deduplicated(records, config())
    op.inspect(
        "after_dedup",
        unique,
        lambda _s, chunk: deduplicated_on[chunk[0].stream].add(threading.get_ident()),
    )
    batches = batcher(config())("batch", unique)

    def note_batch(_step: str, keyed: tuple[str, list[Record]]) -> None:
        for record in keyed[1]:
            batched_on[record.stream].add(threading.get_ident())

    op.inspect("after_batch", batches, note_batch)
    cluster_main(flow, [], 0, worker_count_per_proc=WORKERS)

    streams = {f"/var/log/{part}/{n}.log" for part in PARTS for n in range(STREAMS_PER_PART)}
    assert set(read_on) == streams and set(batched_on) == streams
    assert len(set(read_on.values())) == WORKERS  # the partitions spread over the workers
    for stream, thread in read_on.items():
        assert deduplicated_on[stream] == {thread}, stream
        assert batched_on[stream] == {thread}, stream
    # Keyed by the stream alone, bytewax would have sent some of them to another worker.
    worker_of = {thread: identity._workers[thread][0] for thread in set(read_on.values())}
    assert any(
        bytewax_worker(stream, WORKERS) != worker_of[thread] for stream, thread in read_on.items()
    )


def test_a_single_worker_keeps_its_keys_and_parts_as_they_were() -> None:
    """``logwax run`` (one worker) finds its snapshots' keys unchanged."""
    identity = WorkerIdentity()
    assert identity.local_key("/var/log/a.log") == "/var/log/a.log"  # not built on this thread
    identity.build("worker_identity", 0, 1)
    assert identity.local_key("/var/log/a.log") == "/var/log/a.log"
    assert identity.spread(["a", "b"], 1) == ["a", "b"]
    identity.build("worker_identity", 1, 2)
    assert identity.local_key("/var/log/a.log") != "/var/log/a.log"
    assert identity.spread(["a", "b", "c"], 1) == ["a", "c"]


def test_single_partition_inputs_spread_over_the_workers() -> None:
    """bytewax alone puts every one-partition input on worker 0; the collect flow's files and
    journald sources are one partition each."""
    read_on: dict[str, int] = {}
    flow = Dataflow("spread")
    identity = know_workers(flow)
    inputs = [
        op.input(f"in{i}", flow, ChunkedSource(_Single(f"s{i}", read_on), identity, i))
        for i in range(WORKERS)
    ]
    op.inspect("all", op.merge("merged", *inputs), lambda _s, _item: None)
    cluster_main(flow, [], 0, worker_count_per_proc=WORKERS)

    assert set(read_on) == {f"s{i}" for i in range(WORKERS)}
    assert sorted(identity._workers[thread][0] for thread in read_on.values()) == list(
        range(WORKERS)
    )


class _Single(FixedPartitionedSource[Record, None]):
    def __init__(self, name: str, read_on: dict[str, int]) -> None:
        self._name, self._read_on = name, read_on

    def list_parts(self) -> list[str]:
        return [self._name]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Noted:
        return _Noted(for_part, self._read_on)


class _Noted(StatefulSourcePartition[Record, None]):
    def __init__(self, name: str, read_on: dict[str, int]) -> None:
        self._name, self._read_on = name, read_on

    def next_batch(self) -> list[Record]:
        self._read_on[self._name] = threading.get_ident()
        raise StopIteration

    def snapshot(self) -> None:
        return None


def test_batches_by_a_sinks_key_fill_where_read_and_come_out_keyed_by_it() -> None:
    """The exactly-once sink's batching: by Kafka partition, yet filled on the reading worker,
    and keyed by the partition again for the sink to route."""
    read_on: dict[str, int] = {}
    batched: list[tuple[str, int, list[Record]]] = []
    flow = Dataflow("sink_key")
    know_workers(flow)
    records = op.input("in", flow, _Parts(read_on))

    def partition(chunk: list[Record]) -> str:
        return f"p{sum(map(ord, chunk[0].stream)) % 2}"

    batches = batcher(config())("batch", records, partition)
    op.inspect(
        "after_batch",
        batches,
        lambda _s, kv: batched.append((kv[0], threading.get_ident(), kv[1])),
    )
    cluster_main(flow, [], 0, worker_count_per_proc=WORKERS)

    assert sum(len(batch) for _key, _thread, batch in batched) == len(read_on) * 3
    for key, thread, batch in batched:
        assert key == partition(batch)  # no routing suffix reaches the sink
        assert {read_on[record.stream] for record in batch} == {thread}
