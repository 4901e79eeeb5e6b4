from __future__ import annotations

import copy
import pickle
import random
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from logwax.core.ratelimit import TokenBucket
from logwax.core.record import Record
from logwax.steps.batching import BatchLogic
from logwax.steps.chunks import by_stream
from logwax.steps.dedup import dedup_mapper
from logwax.steps.transforms import Add, Drop, ParseJson, Rename, apply


def record(event_id: str, message: str = "m", **fields: object) -> Record:
    return Record("s", "stream", event_id, 0, message, fields)


def test_dedup_drops_repeats_until_the_ttl_and_bounds_its_memory() -> None:
    now = [1000.0]
    mapper = dedup_mapper("t", timedelta(seconds=10), max_ids=3, clock=lambda: now[0])
    state, out = mapper(None, [record("a")])
    state, again = mapper(state, [record("a")])
    assert [[r.event_id for r in c] for c in out] == [["a"]] and again == []
    now[0] += 11
    state, expired = mapper(state, [record("a")])
    assert [[r.event_id for r in c] for c in expired] == [["a"]]
    state, _ = mapper(state, [record(event_id) for event_id in "bcd"])
    assert state is not None and list(state) == ["b", "c", "d"]  # "a", the oldest, evicted


def test_dedup_keeps_the_new_records_of_a_chunk_in_order() -> None:
    mapper = dedup_mapper("t", timedelta(seconds=10), max_ids=100)
    state, _ = mapper(None, [record("a"), record("b")])
    _, out = mapper(state, [record("c"), record("a"), record("d"), record("c"), record("e")])
    assert [[r.event_id for r in c] for c in out] == [["c", "d", "e"]]


def test_dedup_of_random_chunks_is_a_seen_set_in_arrival_order() -> None:
    """Repeats from earlier chunks and inside a chunk itself: what passes is what a set of
    seen ids lets through, in arrival order."""
    rng = random.Random(7)
    mapper = dedup_mapper("t", timedelta(seconds=60), max_ids=10_000)
    state, counter = None, 0
    seen: set[str] = set()
    for _ in range(300):
        chunk = []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.7:
                counter += 1
                chunk.append(record(f"n{counter}"))
            else:
                chunk.append(record(f"n{rng.randint(1, counter + 1)}"))
        expected = []
        for r in chunk:
            if r.event_id not in seen:
                seen.add(r.event_id)
                expected.append(r.event_id)
        state, out = mapper(state, chunk)
        assert [r.event_id for c in out for r in c] == expected
    assert state is not None and set(state) == seen


def test_dedup_state_copies_and_pickles_as_the_plain_ordered_dict_of_snapshots() -> None:
    mapper = dedup_mapper("t", timedelta(seconds=10), max_ids=100)
    state, _ = mapper(None, [record("a"), record("b")])
    copied = copy.deepcopy(state)
    assert copied == state and copied is not state and list(copied or {}) == ["a", "b"]
    restored = pickle.loads(pickle.dumps(state))
    assert type(restored) is OrderedDict and list(restored) == ["a", "b"]
    old = pickle.loads(pickle.dumps(OrderedDict(restored)))  # as snapshots always held it
    assert pickle.dumps(state) == pickle.dumps(old)
    _, out = mapper(old, [record("b"), record("c")])
    assert [[r.event_id for r in c] for c in out] == [["c"]]


def test_chunks_group_a_batch_by_stream_in_order() -> None:
    def on(stream: str, event_id: str) -> Record:
        return Record("s", stream, event_id, 0, "m", {})

    mixed = [on("x", "1"), on("y", "2"), on("x", "3"), on("y", "4"), on("z", "5")]
    grouped = [[(r.stream, r.event_id) for r in c] for c in by_stream(mixed)]
    assert grouped == [[("x", "1"), ("x", "3")], [("y", "2"), ("y", "4")], [("z", "5")]]
    assert by_stream([]) == []


def test_batch_closes_at_count_or_bytes_and_its_deadline_never_moves() -> None:
    logic = BatchLogic(3, 10_000, timedelta(seconds=1), None)
    out, _ = logic.on_batch([[record(str(i)) for i in range(4)]])
    assert [len(b) for b in out] == [3]  # the chunk of 4 is split at the bound
    deadline = logic.notify_at()
    assert deadline is not None and deadline <= datetime.now(UTC) + timedelta(seconds=1)
    time.sleep(0.01)
    logic.on_batch([[record("x")]])
    assert logic.notify_at() == deadline  # a trickle does not push the flush back
    flushed, _ = logic.on_notify()
    assert [[r.event_id for r in b] for b in flushed] == [["3", "x"]]
    assert logic.notify_at() is None
    by_bytes = BatchLogic(100, 1000, timedelta(seconds=1), None)
    out, _ = by_bytes.on_batch([[record(str(i), "x" * 400) for i in range(3)]])
    assert [len(b) for b in out] == [2]


def test_open_batch_survives_through_its_snapshot() -> None:
    logic = BatchLogic(10, 10_000, timedelta(seconds=5), None)
    logic.on_batch([[record("a"), record("b")]])
    resumed = BatchLogic(10, 10_000, timedelta(seconds=5), logic.snapshot())
    out, _ = resumed.on_eof()
    assert [[r.event_id for r in b] for b in out] == [["a", "b"]]


def test_token_bucket_grants_at_the_configured_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(100.0, "t", clock=lambda: now[0])
    assert bucket.grant(1000) == 100
    assert bucket.grant(10) == 0 and bucket.next_token() is not None
    now[0] += 0.5
    assert bucket.grant(1000) == 50
    assert TokenBucket(None, "t").grant(1234) == 1234


def test_transform_rules() -> None:
    rules = [
        ParseJson(),
        Rename(rename={"app.name": "service"}),
        Drop(drop=["app"]),
        Add(add={"env.stage": "prod"}),
    ]
    out = apply(rules, record("a", '{"n": 1}', app={"name": "web", "x": 1}))
    assert out.fields == {"json": {"n": 1}, "service": "web", "env": {"stage": "prod"}}
    bad = apply([ParseJson()], record("b", "not json"))
    assert bad.fields["tags"] == ["json_parse_error"] and bad.message == "not json"


def test_batches_of_whole_runs_are_the_batches_of_one_record_at_a_time() -> None:

    rng = random.Random(7)
    for _ in range(200):
        max_records, max_bytes = rng.randint(1, 12), rng.randint(200, 3000)
        chunks = [
            [record(f"{i}-{j}", "m" * rng.randint(0, 400)) for j in range(rng.randint(0, 15))]
            for i in range(rng.randint(1, 6))
        ]
        expected: list[list[str]] = []
        batch: list[str] = []
        size = 0
        for chunk in chunks:
            for r in chunk:
                batch.append(r.event_id)
                size += len(r.message) + 200
                if len(batch) >= max_records or size >= max_bytes:
                    expected.append(batch)
                    batch, size = [], 0
        logic = BatchLogic(max_records, max_bytes, timedelta(seconds=1), None)
        got: list[list[str]] = []
        for at in range(0, len(chunks), 2):  # bytewax hands over a few chunks at a time
            out, _ = logic.on_batch(chunks[at : at + 2])
            got.extend([r.event_id for r in b] for b in out)
        assert got == expected
        assert [r.event_id for r in logic.snapshot().records] == batch
        assert logic.snapshot().size == size
