"""1,000 files matched by one glob, all starting with the same line, 200 of them created and
removed while logwax runs (and is SIGKILLed once): every line exactly once in Kafka
(read_committed) and in Elasticsearch, open files bounded by ``max_open_files``, the state of the
removed files forgotten after ``forget_after``."""

from __future__ import annotations

import contextlib
import pickle
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.flow_runs import kafka_messages, start, stop_gracefully, wait_for
from tests.integration.pipelines import files_source, write_pipeline
from tests.integration.sinks import TestSinks

HEADER = "# Version: 1.0 Fields: date time cs-method cs-uri-stem sc-status"
ORIGINALS, WAVES, PER_WAVE, LINES = 800, 4, 50, 40
MAX_OPEN = 100


class Sampler(threading.Thread):
    """Peak open descriptors and resident memory of whichever logwax process runs now."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.pid = 0
        self.fds = self.rss_kib = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            with contextlib.suppress(OSError, ValueError):
                fds = len(list(Path(f"/proc/{self.pid}/fd").iterdir()))
                status = Path(f"/proc/{self.pid}/status").read_text()
                rss = next((x for x in status.splitlines() if x.startswith("VmRSS")), None)
                self.fds = max(self.fds, fds)
                if rss is not None:  # a process being reaped has none
                    self.rss_kib = max(self.rss_kib, int(rss.split()[1]))


def write_file(path: Path, name: str) -> set[str]:
    lines = [f"file={name} line={i} GET /index.html 200" for i in range(LINES)]
    path.write_text(HEADER + "\n" + "".join(line + "\n" for line in lines))
    return set(lines)


def write_slowly(paths: list[Path], written: list[set[str]]) -> None:
    """``write_file`` of each path, a tenth of a second apart."""
    for path in paths:
        written.append(write_file(path, path.stem))
        time.sleep(0.1)


def snapshot_entries(recovery: Path) -> tuple[int, int]:
    """Full file entries and bare generation markers in the newest files-source snapshot."""
    with contextlib.closing(sqlite3.connect(next(recovery.glob("part-*.sqlite3")))) as db:
        blob = db.execute(
            "SELECT ser_change FROM snaps WHERE step_id LIKE '%source%'"
            " AND ser_change IS NOT NULL ORDER BY snap_epoch DESC LIMIT 1"
        ).fetchone()[0]
    state = pickle.loads(blob)
    markers = sum(1 for v in state.values() if len(v) == 1)
    return len(state) - markers, markers


def test_a_thousand_files_with_one_first_line_each_shipped_exactly_once(
    tmp_path: Path, new_sinks: Callable[..., TestSinks]
) -> None:
    logs, recovery, log = tmp_path / "logs", tmp_path / "recovery", tmp_path / "logwax.log"
    logs.mkdir()
    expected: set[str] = set()
    for f in range(ORIGINALS):
        expected |= write_file(logs / f"app{f}.log", str(f))
    headers = ORIGINALS
    sinks = new_sinks(partitions=3)
    config = write_pipeline(
        tmp_path,
        "files_load",
        snapshot_interval="500ms",
        sources=[
            files_source(
                tmp_path,
                scan_interval="500ms",
                max_open_files=MAX_OPEN,
                close_inactive="2s",
                forget_after="3s",
                rate_limit=3000,  # so that the SIGKILL can fall inside a wave
            )
        ],
        kafka=sinks.kafka(exactly_once=True),
        elasticsearch=sinks.elasticsearch(),
        batch={"max_records": 500, "max_latency": "200ms"},
    )
    sampler = Sampler()
    sampler.start()
    began = time.monotonic()
    proc = start(config, tmp_path)
    sampler.pid = proc.pid
    kills = at_kill = 0
    for wave in range(WAVES):
        made = [logs / f"new{wave}-{i}.log" for i in range(PER_WAVE)]
        headers += PER_WAVE
        if wave != 1:
            for path in made:  # created while running, same first line as every other file
                expected |= write_file(path, path.stem)
            total = len(expected) + headers
        else:  # a SIGKILL mid-stream: the replay must collapse onto the same ids
            # The wave is written a file at a time, so that it is still being shipped when its
            # first lines land, however fast logwax ships (all at once, it could land whole
            # between two polls).
            before = len(expected) + headers - PER_WAVE
            total = before + PER_WAVE * (LINES + 1)
            written: list[set[str]] = []
            writer = threading.Thread(target=write_slowly, args=(made, written))
            writer.start()
            wait_for(
                "the first lines of wave 1",
                lambda t=before: sinks.es_count() > t,
                proc,
                log,
                poll=0.05,
            )
            proc.kill()
            proc.wait()
            kills += 1
            at_kill = sinks.es_count()
            writer.join()
            for ids in written:
                expected |= ids
            assert len(expected) + headers == total
            assert at_kill < total  # the kill fell while wave 1 was being shipped
            proc = start(config, tmp_path)
            sampler.pid = proc.pid
        sinks.wait_delivered(proc, log, total)
        for path in made:
            path.unlink()
    time.sleep(5)  # forget_after (3s) and a scan: the removed files' state goes
    stop_gracefully(proc, log)
    elapsed = time.monotonic() - began
    sampler.stopped.set()

    total = len(expected) + headers
    messages = kafka_messages(sinks.kafka_config, sinks.topic)
    entries, markers = snapshot_entries(recovery)
    print(
        f"files={ORIGINALS + WAVES * PER_WAVE} lines={total} kills={kills} at_kill={at_kill} "
        f"time={elapsed:.0f}s open_fds_peak={sampler.fds} rss_peak={sampler.rss_kib // 1024}MiB "
        f"snapshot entries={entries} forgotten markers={markers}"
    )
    assert set(messages) == expected | {HEADER} and messages[HEADER] == headers
    sinks.assert_exactly_once(total)
    assert sampler.fds <= MAX_OPEN + 60  # the files plus the process's own sockets and files
    assert entries <= ORIGINALS + 5 and markers >= 1
