"""The files partition, driven directly: rebuilt from its own snapshot it continues exactly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.files.config import FilesSourceConfig
from connectors.files.source import FilesSource
from logwax import shutdown
from logwax.record import Record


def config(tmp_path: Path, **extra: object) -> FilesSourceConfig:
    return FilesSourceConfig.model_validate(
        {
            "type": "files",
            "name": "t",
            "include": [f"{tmp_path}/*.log"],
            "scan_interval": 0,
            "batch_lines": 3,
            **extra,
        }
    )


def drain(part, rounds: int = 20) -> list[Record]:  # type: ignore[no-untyped-def]
    out: list[Record] = []
    for _ in range(rounds):
        out.extend(part.next_batch())
    return out


def write_lines(path: Path, start: int, count: int) -> None:
    with open(path, "a") as handle:
        for i in range(start, start + count):
            handle.write(f"{path.stem} {i}\n")


def test_resume_from_snapshot_gives_the_rest_with_the_same_ids(tmp_path: Path) -> None:
    write_lines(tmp_path / "a.log", 0, 10)
    source = FilesSource(config(tmp_path))
    whole = drain(source.build_part("s", "t", None))

    first = source.build_part("s", "t", None)
    head = first.next_batch() + first.next_batch()
    resumed = source.build_part("s", "t", first.snapshot())
    tail = drain(resumed)

    assert [r.message for r in whole] == [f"a {i}" for i in range(10)]
    assert [r.event_id for r in head + tail] == [r.event_id for r in whole]
    assert len({r.event_id for r in whole}) == 10


def test_rename_and_create_rotation_loses_nothing(tmp_path: Path) -> None:
    live = tmp_path / "app.log"
    write_lines(live, 0, 4)
    part = FilesSource(config(tmp_path)).build_part("s", "t", None)
    seen = drain(part, 3)
    write_lines(live, 4, 2)  # written just before rotation, not yet read
    os.rename(live, tmp_path / "app.log.1")
    write_lines(live, 100, 3)  # the new file at the old path
    seen += drain(part)
    assert sorted(r.message for r in seen) == sorted(
        [f"app {i}" for i in range(6)] + [f"app {i}" for i in range(100, 103)]
    )
    assert len({r.event_id for r in seen}) == 9


def test_read_from_end_skips_existing_content_of_files_seen_at_start(tmp_path: Path) -> None:
    write_lines(tmp_path / "a.log", 0, 5)
    part = FilesSource(config(tmp_path, read_from="end")).build_part("s", "t", None)
    assert drain(part, 3) == []
    write_lines(tmp_path / "a.log", 5, 2)
    write_lines(tmp_path / "b.log", 0, 1)  # appeared later: read from its beginning
    assert sorted(r.message for r in drain(part)) == ["a 5", "a 6", "b 0"]


def test_copytruncate_starts_over_on_the_new_content(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    write_lines(path, 0, 5)
    part = FilesSource(config(tmp_path)).build_part("s", "t", None)
    assert len(drain(part)) == 5
    with open(path, "w") as handle:
        handle.write("fresh 0\nfresh 1\n")
    assert [r.message for r in drain(part)] == ["fresh 0", "fresh 1"]


def test_shutdown_request_ends_the_stream(tmp_path: Path) -> None:
    part = FilesSource(config(tmp_path)).build_part("s", "t", None)
    shutdown.request()
    try:
        with pytest.raises(StopIteration):
            part.next_batch()
    finally:
        shutdown.reset()
