"""The disk holding the recovery snapshots fills up while logwax runs: the job stops with a clear
error, and once there is room again it resumes from its last good snapshot; nothing is lost and,
with exactly-once Kafka, nothing is duplicated."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.flow_runs import has_resume_point, start, stop_gracefully, wait_for
from tests.integration.pipelines import files_source, write_pipeline
from tests.integration.sinks import TestSinks


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 MiB tmpfs: a disk that can really fill up (needs root and mount rights)."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> None:
    """Fill the disk to the last block. The recovery store may have filled it already (its
    snapshots grow fast at this interval): then even creating the filler fails, which is fine."""
    try:
        with open(disk / "filler", "wb") as out:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc


def test_snapshot_disk_full_stops_the_job_clearly_and_resumes_without_loss(
    tmp_path: Path, small_disk: Path, new_sinks: Callable[..., TestSinks]
) -> None:
    logs, recovery, log = tmp_path / "logs", small_disk / "recovery", tmp_path / "logwax.log"
    logs.mkdir()
    lines = 60_000
    with open(logs / "app.log", "w") as out:
        out.writelines(f"line={i} {'z' * 80}\n" for i in range(lines))
    sinks = new_sinks(partitions=2)
    config = write_pipeline(
        tmp_path,
        "disk_full",
        sources=[files_source(tmp_path)],
        kafka=sinks.kafka(exactly_once=True),
        elasticsearch=sinks.elasticsearch(),
        batch={"max_records": 1000, "max_latency": "200ms"},
        recovery={"directory": str(recovery), "snapshot_interval": "300ms"},
    )
    proc = start(config, tmp_path)
    wait_for(
        "a snapshot and some lines",
        lambda: has_resume_point(recovery) and sinks.es_count() >= 5_000,
        proc,
        log,
        poll=0.05,
    )
    store = subprocess.run(["du", "-sh", str(recovery)], capture_output=True, text=True)
    print("recovery store when the disk is filled:", store.stdout.strip())
    fill(small_disk)
    code = proc.wait(timeout=60)
    output = log.read_text()
    print(f"exit code {code}:", *[x for x in output.splitlines() if x.startswith("logwax:")])
    assert code != 0
    assert "is full: the job stopped. Free space there and start it again" in output
    assert sinks.es_count() < lines

    (small_disk / "filler").unlink(missing_ok=True)
    proc = start(config, tmp_path)
    sinks.wait_delivered(proc, log, lines, timeout=180)
    stop_gracefully(proc)
    sinks.assert_exactly_once(lines)
