"""Hostile input for the files source, each case against the real source on real files.

Every case ends shipped (maybe tagged), or refused with one log line and a metric; none hangs
the source or stops the other files. The rows of docs/bad-input.md point here.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from logwax.connectors.files.config import FilesSourceConfig
from logwax.connectors.files.source import FilesSource
from logwax.core.record import Record

LOGGER = "logwax.connectors.files.source"


def source(directory: Path, name: str, **extra: Any) -> Any:
    config = FilesSourceConfig.model_validate(
        {
            "type": "files",
            "name": name,
            "include": [f"{directory}/*.log"],
            "scan_interval": 0,
            "poll_interval": "10ms",
            **extra,
        }
    )
    return FilesSource(config).build_part("s", name, None)


def poll(part: Any, seconds: float = 1.0, until: int | None = None) -> list[Record]:
    """Poll as bytewax would for ``seconds`` (or until ``until`` records came)."""
    got: list[Record] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (until is None or len(got) < until):
        batch = part.next_batch()
        got.extend(batch)
        if not batch:
            time.sleep(0.02)
    return got


def errors(name: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "logwax_source_errors_total", {"source": name, "reason": reason}
    )
    return value or 0.0


def test_invalid_utf8_and_nul_bytes_are_shipped_and_flagged(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(b"ok\nbad \xff\xfe here\nnul \x00 inside\n")
    records = poll(source(tmp_path, "utf8"), until=3)
    assert [r.message for r in records] == ["ok", "bad \ufffd\ufffd here", "nul \x00 inside"]
    assert records[1].fields["tags"] == ["invalid_utf8"] and "tags" not in records[2].fields
    assert all(r.to_json_bytes() for r in records)  # each encodes for the sinks
    assert errors("utf8", "invalid_utf8") == 1


def test_crlf_line_ends_are_trimmed(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(b"one\r\ntwo\r\n")
    assert [r.message for r in poll(source(tmp_path, "crlf"), until=2)] == ["one", "two"]


def test_a_50_mib_line_is_shipped_truncated_and_flagged_and_the_next_line_follows(
    tmp_path: Path,
) -> None:
    with open(tmp_path / "a.log", "wb") as out:
        out.write(b"before\n")
        out.write(b"x" * (50 * 1024 * 1024) + b"\n")
        out.write(b"after\n")
    part = source(tmp_path, "long")
    records = poll(part, seconds=30, until=3)
    assert [r.message[:6] for r in records] == ["before", "xxxxxx", "after"]
    assert len(records[1].message) == int(part._config.max_line_bytes)
    assert records[1].fields["tags"] == ["truncated"]
    assert errors("long", "truncated") == 1


def test_an_empty_file_is_read_once_it_grows(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.touch()
    part = source(tmp_path, "empty")
    assert poll(part, 0.3) == []
    path.write_text("first\n")
    assert [r.message for r in poll(part, until=1)] == ["first"]


def test_a_one_byte_file_without_newline_is_shipped_after_the_partial_timeout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"x")
    part = source(tmp_path, "onebyte", partial_timeout="300ms")
    records = poll(part, seconds=5, until=1)
    assert [(r.message, r.fields["tags"]) for r in records] == [("x", ["partial_line"])]
    with open(path, "ab") as out:  # the writer carries on: what follows is a line of its own
        out.write(b"yz\nnext\n")
    more = poll(part, seconds=5, until=2)
    assert [r.message for r in more] == ["yz", "next"]
    assert len({r.event_id for r in records + more}) == 3
    assert errors("onebyte", "partial_line") == 1


def test_a_last_line_without_newline_is_flushed_flagged_after_the_timeout(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.log").write_bytes(b"one\ntwo")
    part = source(tmp_path, "partial", partial_timeout="500ms")
    assert [r.message for r in poll(part, 0.2)] == ["one"]  # "two" is still being written
    late = poll(part, seconds=5, until=1)
    assert [(r.message, r.fields["tags"]) for r in late] == [("two", ["partial_line"])]
    assert late[0].event_id.endswith(":4p")  # never the id the whole line would get


def test_a_file_deleted_while_open_is_drained_to_its_last_byte(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("one\n")
    part = source(tmp_path, "deleted")
    assert len(poll(part, until=1)) == 1
    with open(path, "a") as out:
        out.write("two\nthree\nunfinished")
    path.unlink()
    assert [r.message for r in poll(part, seconds=2, until=3)] == ["two", "three", "unfinished"]
    assert part._readers == {}


def test_a_file_truncated_below_the_offset_is_read_anew_with_new_ids(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("".join(f"line {i}\n" for i in range(10)))
    part = source(tmp_path, "truncated")
    old = poll(part, until=10)
    with open(path, "r+") as handle:
        handle.truncate(0)
    path.write_text("fresh 1\nfresh 2\n")
    new = poll(part, seconds=2, until=2)
    assert [r.message for r in new] == ["fresh 1", "fresh 2"]
    assert not {r.event_id for r in old} & {r.event_id for r in new}
    assert errors("truncated", "copytruncate") == 1


def test_a_glob_matching_nothing_warns_once_and_keeps_watching(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    part = source(tmp_path, "nomatch")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert poll(part, 0.3) == []
    warnings = [r.getMessage() for r in caplog.records if "matches no file" in r.getMessage()]
    assert len(warnings) == 1 and errors("nomatch", "no_match") == 1
    (tmp_path / "late.log").write_text("here\n")
    assert [r.message for r in poll(part, until=1)] == ["here"]


def test_a_directory_fifo_socket_device_and_symlink_loop_are_refused_once_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "dir.log").mkdir()
    os.mkfifo(tmp_path / "fifo.log")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "socket.log"))
    specials = 3
    try:
        os.mknod(tmp_path / "device.log", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        specials += 1
    except PermissionError:
        print("device node not tested: mknod not permitted here")
    (tmp_path / "loop.log").symlink_to(tmp_path / "loop.log")
    (tmp_path / "good.log").write_text("fine\n")
    part = source(tmp_path, "specials")
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            records = poll(part, 0.5)  # many scans (scan_interval 0): still one line each
    finally:
        server.close()
    assert [r.message for r in records] == ["fine"]
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == specials + 1, refused
    assert errors("specials", "not_a_file") == specials
    assert errors("specials", "bad_symlink") == 1


def test_a_file_made_unreadable_before_and_while_open(tmp_path: Path) -> None:
    """Tests run as root, whom chmod does not stop: the source runs in a child process without
    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (``setpriv``), so permissions bind it."""
    setpriv = "/usr/bin/setpriv"
    if not os.path.exists(setpriv):
        pytest.skip("setpriv (util-linux) is needed to drop CAP_DAC_OVERRIDE")
    directory = tmp_path / "logs"
    directory.mkdir()
    (directory / "locked.log").write_text("locked 1\n")
    os.chmod(directory / "locked.log", 0)
    (directory / "open.log").write_text("open 1\n")
    child = subprocess.Popen(
        [
            setpriv,
            "--bounding-set=-dac_override,-dac_read_search",
            sys.executable,
            "-c",
            "import tests.integration.test_files_bad_input as t; t.unreadable_child()",
            str(directory),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert child.stdin is not None and child.stdout is not None

    def step(command: str) -> dict[str, Any]:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(command + "\n")
        child.stdin.flush()
        return dict(json.loads(child.stdout.readline()))

    try:
        first = step("poll 1")
        assert first["messages"] == ["open 1"]  # locked.log refused, open.log read
        assert first["refused_open"] == 1
        os.chmod(directory / "open.log", 0)  # unreadable while open: the handle still reads
        with open(directory / "open.log", "a") as out:
            out.write("open 2\n")
        assert step("poll 1")["messages"] == ["open 2"]
        time.sleep(0.5)  # close_inactive: the handle is let go
        step("idle")
        with open(directory / "open.log", "a") as out:
            out.write("open 3\n")
        stuck = step("idle")
        assert stuck["messages"] == [] and stuck["refused_open"] == 2  # refused, counted
        os.chmod(directory / "open.log", 0o644)
        os.chmod(directory / "locked.log", 0o644)
        assert sorted(step("poll 2")["messages"]) == ["locked 1", "open 3"]
        child.stdin.close()
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    log = child.stderr.read() if child.stderr else ""
    refusals = [line for line in log.splitlines() if "refused" in line]
    print("\n".join(refusals))
    assert len(refusals) == 2  # one line per file, however many scans refused it


def unreadable_child() -> None:
    """The source without the capabilities that let root read anything, driven over stdin."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    directory = Path(sys.argv[1])
    try:
        (directory / "locked.log").read_bytes()
        raise SystemExit("still able to read a mode 000 file: capabilities were not dropped")
    except PermissionError:
        pass
    part = source(directory, "perm", close_inactive="200ms")
    for command in sys.stdin:
        verb, *count = command.split()
        if verb == "poll":
            records = poll(part, seconds=5, until=int(count[0]))
        else:
            records = poll(part, seconds=0.3)
        print(
            json.dumps(
                {"messages": [r.message for r in records], "refused_open": errors("perm", "open")}
            ),
            flush=True,
        )


def test_logwax_check_names_a_fifo_instead_of_hanging_on_it(tmp_path: Path) -> None:
    from logwax.connectors.files.health import probe

    os.mkfifo(tmp_path / "fifo.log")
    (tmp_path / "good.log").write_text("fine\n")
    config = FilesSourceConfig.model_validate(
        {"type": "files", "name": "check", "include": [f"{tmp_path}/*.log"]}
    )
    assert probe(config).endswith(f"not regular files, refused: {tmp_path}/fifo.log")
