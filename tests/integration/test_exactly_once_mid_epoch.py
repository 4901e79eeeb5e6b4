"""Exactly-once Kafka commits inside an epoch (every ``max_latency``), so a crash can leave several
transactions committed after the last snapshot, dead letters among them. SIGKILLed right after
such a commit (fault hook ``batch:N``: the Nth commit made in ``write_batch``), then again right
after a commit of the restarted run while it is still skipping replays, and restarted: every line
is once in the topic or in the dead letters. A file is appended to the whole time, as a live log
is, so that epochs, snapshots and commits interleave as they do in production."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.brokers import Brokers
from tests.integration.flow_runs import crash_after_commit, kafka_event_ids, start, stop_gracefully
from tests.integration.oversize_helpers import (
    LOWERED,
    files_to_kafka,
    topic_and_dead_letters,
    wait_split,
    where,
)

# A live file: 12,000 lines appended 30 at a time every 30 ms (~1,000 lines/s for ~12 s), one
# line in 1,500 over the topic's limit; and a file written up front (a second stream).
LIVE_LINES, STEP, PAUSE, BIG_EVERY = 12_000, 30, 0.03, 1_500
OTHER_LINES = 5_000


def live_line(i: int) -> str:
    return "b" * (2 * LOWERED) if i % BIG_EVERY == BIG_EVERY - 1 else f"live {i} {'l' * 120}"


def append_live(path: Path, stop: threading.Event) -> None:
    for first in range(0, LIVE_LINES, STEP):
        if stop.is_set():
            return
        with open(path, "a") as out:
            out.write("".join(live_line(i) + "\n" for i in range(first, first + STEP)))
        time.sleep(PAUSE)


def test_sigkill_right_after_commits_inside_an_epoch_keeps_each_line_exactly_once(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    with open(logs / "other.log", "w") as out:
        out.writelines(f"other {i} {'o' * 120}\n" for i in range(OTHER_LINES))
    topic, dead = topic_and_dead_letters(kafka_config, new_topic)
    config = files_to_kafka(tmp_path, servers, "eo_mid_epoch", topic, dead, snapshot_interval="2s")
    log = tmp_path / "logwax.log"
    stop = threading.Event()
    writer = threading.Thread(target=append_live, args=(logs / "live.log", stop), daemon=True)
    writer.start()
    try:
        # The 12th commit made in write_batch comes seconds in: after snapshots, with
        # several transactions committed since the last one.
        crash_after_commit(config, tmp_path, "batch:12", timeout=60)
        after_first = sum(kafka_event_ids(kafka_config, topic).values())
        # Then right after the restarted run's 3rd write_batch commit: it is replaying, skipping
        # what it read back, and commits of its own land beyond that read-back region.
        crash_after_commit(config, tmp_path, "batch:3", timeout=60)
        proc = start(config, tmp_path)
        writer.join(timeout=60)
        assert not writer.is_alive()
        total = LIVE_LINES + OTHER_LINES
        wait_split(proc, log, kafka_config, (topic, dead), total)
        stop_gracefully(proc, log)
    finally:
        stop.set()

    shipped, letters = kafka_event_ids(kafka_config, topic), kafka_event_ids(kafka_config, dead)
    twice = [i for i, n in (shipped + letters).items() if n > 1]
    assert not twice, f"more than once: {twice[:5]}; {where(kafka_config, (topic, dead), twice)}"
    skipped = log.read_text().count("skipping their replays")
    print(
        f"committed at the first kill: {after_first}; shipped {len(shipped)}, dead letters "
        f"{len(letters)}; restarts that skipped committed replays: {skipped}"
    )
    assert len(shipped) + len(letters) == total
    assert len(letters) == LIVE_LINES // BIG_EVERY
    assert after_first > 0
    assert skipped >= 2  # both restarts read back records committed after the snapshot
