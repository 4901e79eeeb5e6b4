"""The files partition, driven directly: rebuilt from its own snapshot it continues exactly."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from logwax.connectors.files.config import FilesSourceConfig
from logwax.connectors.files.source import FilesSource
from logwax.core import shutdown
from logwax.core.record import Record


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


def test_copytruncate_with_the_same_first_line_gets_new_ids(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("HEADER\nold 1\nold 2\n")
    part = FilesSource(config(tmp_path)).build_part("s", "t", None)
    old = drain(part)
    path.write_text("HEADER\nnew 1\n")  # truncated in place, same first line
    new = drain(part)
    assert [r.message for r in new] == ["HEADER", "new 1"]
    assert not {r.event_id for r in old} & {r.event_id for r in new}


def test_lines_held_by_multiline_are_reread_after_resume(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("START one\n  more\nSTART two\n  tail\n")
    source = FilesSource(config(tmp_path, multiline={"start_pattern": "^START", "timeout": "1h"}))
    first = source.build_part("s", "t", None)
    emitted = drain(first)
    assert [r.message for r in emitted] == ["START one\n  more"]  # "START two" still open
    resumed = source.build_part("s", "t", first.snapshot())
    with open(path, "a") as out:
        out.write("START three\n")
    again = drain(resumed)
    assert [r.message for r in again] == ["START two\n  tail"]
    assert again[0].event_id.endswith(":17")  # offset of "START two"


def test_max_open_files_defers_the_rest_until_a_slot_frees(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        write_lines(tmp_path / f"{name}.log", 0, 2)
    part = FilesSource(config(tmp_path, max_open_files=1, close_inactive=0)).build_part(
        "s", "t", None
    )
    assert sorted(r.message for r in drain(part, 30)) == sorted(
        f"{n} {i}" for n in "abc" for i in range(2)
    )


def test_excluded_and_container_paths(tmp_path: Path) -> None:
    containers = tmp_path / "containers"
    containers.mkdir()
    cid = "b" * 64
    (containers / f"api_prod_app-{cid}.log").write_text(
        '{"log":"hi\\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}\n'
    )
    (containers / "skip.log").write_text('{"log":"no\\n"}\n')
    cfg = FilesSourceConfig.model_validate(
        {
            "type": "files",
            "name": "k",
            "include": [f"{containers}/*.log"],
            "exclude": ["*/skip.log"],
            "format": "docker",
            "scan_interval": 0,
        }
    )
    records = drain(FilesSource(cfg).build_part("s", "k", None), 3)
    assert [r.message for r in records] == ["hi"]
    assert records[0].fields["kubernetes"]["namespace"] == "prod"
    assert records[0].timestamp_ns == 1704067200 * 10**9


def test_deleted_file_is_drained_then_closed_and_a_returning_file_is_not_reread(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.log"
    write_lines(path, 0, 3)
    part = FilesSource(config(tmp_path)).build_part("s", "t", None)
    assert len(drain(part, 3)) == 3
    write_lines(path, 3, 2)  # written, then the file is deleted before we read it
    kept = path.read_bytes()
    path.unlink()
    assert [r.message for r in drain(part)] == ["a 3", "a 4"]  # the open handle is drained
    assert part._readers == {}  # closed once drained
    path.write_bytes(kept)  # the same file comes back (a restore, a remount)
    assert drain(part) == []
    write_lines(path, 5, 1)
    assert [r.message for r in drain(part)] == ["a 5"]


def test_file_renamed_out_of_the_globs_while_down_is_finished(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    write_lines(path, 0, 4)
    source = FilesSource(config(tmp_path))
    first = source.build_part("s", "t", None)
    first.next_batch()  # 3 lines (batch_lines=3), then the flow "crashes"
    saved = first.snapshot()
    write_lines(path, 4, 2)
    path.rename(tmp_path / "app.log.1")  # rotated while down, to a name *.log does not match
    write_lines(path, 100, 2)
    resumed = source.build_part("s", "t", saved)
    assert sorted(r.message for r in drain(resumed)) == sorted(
        ["app 3", "app 4", "app 5", "app 100", "app 101"]
    )
    assert drain(resumed) == []  # and the rotated file is not read again


def test_a_linked_file_rotated_at_its_target_while_down_is_finished(tmp_path: Path) -> None:
    """The kubelet's layout: the glob matches links (``/var/log/containers/*.log``) to
    ``/var/log/pods/.../0.log``, and rotation renames the target, never the link, so the
    rotated file is a sibling of the target (found by the e2e test, lines lost before)."""
    pods = tmp_path / "pods"
    pods.mkdir()
    target = pods / "0.log"
    write_lines(target, 0, 4)
    link = tmp_path / "app.log"
    link.symlink_to(target)
    source = FilesSource(config(tmp_path))
    first = source.build_part("s", "t", None)
    first.next_batch()  # 3 lines, then the flow "crashes"
    saved = first.snapshot()
    write_lines(target, 4, 2)
    target.rename(pods / "0.log.20260101-120000")  # the kubelet rotates while we are down
    (pods / "0.log.20260101-110000.gz").write_bytes(b"not read")
    write_lines(target, 100, 2)
    resumed = source.build_part("s", "t", saved)
    assert sorted(r.message for r in drain(resumed)) == sorted(
        ["0 3", "0 4", "0 5", "0 100", "0 101"]
    )
    assert drain(resumed) == []


def test_backfill_of_files_found_at_start_reports_progress(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logwax.connectors.files.progress as progress_module

    monkeypatch.setattr(progress_module, "PROGRESS_EVERY_S", 0.0)
    write_lines(tmp_path / "a.log", 0, 9)
    part = FilesSource(config(tmp_path)).build_part("s", "t", None)
    with caplog.at_level("INFO", logger="logwax.connectors.files.source"):
        drain(part, 5)
    bars = [r.getMessage() for r in caplog.records if "backfill [" in r.getMessage()]
    assert " 33% " in bars[0]  # 3 of 9 lines (batch_lines=3) after the first poll
    assert "100%" in bars[-1] and "[####################]" in bars[-1]


def test_a_file_empty_at_the_scan_is_read_when_it_grows_not_at_the_next_scan(
    tmp_path: Path,
) -> None:
    """An application creates its log file, then writes: those lines used to wait for the
    next scan (10 s by default) instead of the poll interval."""
    (tmp_path / "new.log").touch()
    part = FilesSource(config(tmp_path, scan_interval="1h", poll_interval="10ms")).build_part(
        "s", "t", None
    )
    assert drain(part, rounds=3) == []
    write_lines(tmp_path / "new.log", 0, 2)
    got: list[Record] = []
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        got.extend(part.next_batch())
        time.sleep(0.01)
    assert [r.message for r in got] == ["new 0", "new 1"]
