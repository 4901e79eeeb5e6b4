"""A stream's dedup state goes once its last id expired: each rotated file is a stream of its
own, and bytewax keeps a key's state until its logic discards it."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSource, run_main

from logwax.core.record import Record
from logwax.steps.dedup import DedupLogic, SeenIds, dedup, dedup_mapper


def chunk(stream: str, *ids: str) -> list[Record]:
    return [Record("t", stream, event_id, 0, "m", {}) for event_id in ids]


def logic(now: list[float], resume: SeenIds | None = None) -> DedupLogic:
    mapper = dedup_mapper("t", timedelta(seconds=10), 100, clock=lambda: now[0])
    return DedupLogic(mapper, resume, clock=lambda: now[0])


def test_the_state_is_discarded_when_its_last_id_expires() -> None:
    now = [1000.0]
    dedup_logic = logic(now)
    unique, keep = dedup_logic.on_item(chunk("s", "a", "b"))
    assert [[r.event_id for r in c] for c in unique] == [["a", "b"]] and keep is False
    assert dedup_logic.notify_at() == datetime.fromtimestamp(1010.0, UTC)
    now[0] = 1005.0
    dedup_logic.on_item(chunk("s", "c", "a"))  # "a" again: dropped, expiry unchanged
    now[0] = 1010.5
    assert dedup_logic.on_notify() == ([], StatefulLogic.RETAIN)  # "c" lives until 1015
    assert list(dedup_logic.snapshot()) == ["c"]
    assert dedup_logic.notify_at() == datetime.fromtimestamp(1015.0, UTC)
    now[0] = 1015.0
    assert dedup_logic.on_notify() == ([], StatefulLogic.DISCARD)
    assert dedup_logic.notify_at() is None


def test_a_snapshot_of_the_flat_map_it_replaced_resumes() -> None:
    now = [1000.0]
    earlier = OrderedDict([("a", 1004.0), ("b", 1020.0)])  # as older snapshots hold it
    dedup_logic = logic(now, earlier)  # type: ignore[arg-type]
    assert dedup_logic.on_item(chunk("s", "a", "b", "c"))[0] == [chunk("s", "c")]
    assert type(dedup_logic.snapshot()) is SeenIds


def _steps(flow: Dataflow) -> list[str]:
    found: list[str] = []

    def walk(steps: list[object]) -> None:
        for step in steps:
            found.append(step.step_id)  # type: ignore[attr-defined]
            walk(step.substeps)  # type: ignore[attr-defined]

    walk(flow.substeps)
    return found


def test_its_step_ids_are_the_flat_maps_so_old_snapshots_find_it() -> None:
    def build(new: bool) -> Dataflow:
        flow = Dataflow("f")
        keyed = op.key_on("k", op.input("in", flow, TestingSource([chunk("s", "a")])), str)
        if new:
            dedup("dedup", keyed, timedelta(seconds=1), 10)
        else:
            op.stateful_flat_map("dedup", keyed, dedup_mapper("dedup", timedelta(seconds=1), 10))
        return flow

    assert _steps(build(True)) == _steps(build(False))


def test_bytewax_drops_an_ended_streams_state_after_its_ttl(tmp_path: Path) -> None:
    """In a real run with recovery: the ended stream's key is deleted from the snapshots."""
    init_db_dir(tmp_path, 1)
    items: list[object] = [chunk("ended", "a"), TestingSource.PAUSE(timedelta(seconds=1.5))]
    items += [chunk("live", "b")]
    flow = Dataflow("expiry")
    keyed = op.key_on("k", op.input("in", flow, TestingSource(items)), lambda c: c[0].stream)
    op.inspect("seen", dedup("dedup", keyed, timedelta(seconds=0.5), 10), lambda _s, _v: None)
    run_main(
        flow,
        epoch_interval=timedelta(seconds=0.1),
        recovery_config=RecoveryConfig(str(tmp_path)),
    )
    with sqlite3.connect(next(tmp_path.glob("*.sqlite3"))) as db:
        latest = {
            key: (epoch, change)
            for key, epoch, change in db.execute(
                "SELECT state_key, snap_epoch, ser_change FROM snaps WHERE step_id LIKE '%dedup%'"
            )
        }
    # The ended stream was discarded (a delete) while the input paused, epochs before the live
    # stream's last snapshot, not at the input's end; the live one was still within its ttl.
    assert latest["ended"][1] is None and latest["live"][1] is not None
    assert latest["ended"][0] < latest["live"][0]
