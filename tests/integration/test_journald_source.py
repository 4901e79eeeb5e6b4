"""The journald source against real journal files, followed through the real journalctl."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from logwax.connectors.journald import JournaldSource, JournaldSourceConfig
from logwax.connectors.journald import export as export_format
from logwax.core.record import Record
from tests.integration.flow_runs import opened_partition, read_partition
from tests.integration.journal_files import JOURNAL_REMOTE, append_entries, rotate


def source(directory: Path) -> JournaldSource:
    return JournaldSource(JournaldSourceConfig(type="journald", name="j", directory=directory))


def read(part: Any, want: int, timeout: float = 30) -> list[Record]:
    return read_partition(part, want, timeout)


def messages(records: list[Record]) -> list[str]:
    return [r.message for r in records]


def test_follows_appends_and_rotation_then_resumes_at_the_cursor(tmp_path: Path) -> None:
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 500)
    with opened_partition(source(journal.parent), "j", None) as part:
        first = read(part, 500)
        append_entries(journal, 500, 100)  # appended while following
        rotate(journal, "0001")
        append_entries(journal, 600, 50)  # a new active file after rotation
        second = read(part, 150)
        cursor = part.snapshot()
    assert messages(first + second) == [f"entry {i}" for i in range(650)]
    assert len({r.event_id for r in first + second}) == 650
    assert first[0].fields["journald"]["BLOB"]["base64"]  # binary field kept

    append_entries(journal, 650, 20)
    with opened_partition(source(journal.parent), "j", cursor) as resumed:
        rest = read(resumed, 20)
        time.sleep(0.5)
        extra = resumed.next_batch()
    assert messages(rest) == [f"entry {i}" for i in range(650, 670)] and extra == []


def test_a_corrupt_journal_file_does_not_stop_the_source(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    append_entries(directory / "system.journal", 0, 200)
    (directory / "system@broken.journal").write_bytes(b"LPKSHHRH" + b"\x00garbage" * 500)
    with opened_partition(source(directory), "j", None) as part:
        got = read(part, 200)
    assert messages(got) == [f"entry {i}" for i in range(200)]


def test_a_killed_journalctl_is_restarted_from_the_cursor(tmp_path: Path) -> None:
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 300)
    with opened_partition(source(journal.parent), "j", None) as part:
        first = read(part, 300)
        os.kill(part._child._proc.pid, signal.SIGKILL)  # the child dies, as on OOM
        append_entries(journal, 300, 100)
        second = read(part, 100)
        time.sleep(1)
        second += part.next_batch()
    assert messages(first + second) == [f"entry {i}" for i in range(400)]


def test_unit_and_priority_filters_on_a_real_journal(tmp_path: Path) -> None:
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 50, unit="app.service")
    append_entries(journal, 50, 30, unit="sshd.service")
    config = JournaldSourceConfig(
        type="journald",
        name="j",
        directory=journal.parent,
        units=["sshd.service"],
        min_priority="info",
    )
    part = JournaldSource(config).build_part("s", "j", None)
    try:
        got = read(part, 30) + read(part, 1, timeout=1)
    finally:
        part.close()
    assert messages(got) == [f"entry {i}" for i in range(50, 80)]
    quiet = JournaldSourceConfig(
        type="journald", name="j", directory=journal.parent, min_priority="warning"
    )  # the entries are PRIORITY=6 (info)
    part = JournaldSource(quiet).build_part("s", "j", None)
    try:
        assert read(part, 1, timeout=2) == []
    finally:
        part.close()


def errors(reason: str) -> float:
    labels = {"source": "j", "reason": reason}
    return REGISTRY.get_sample_value("logwax_source_errors_total", labels) or 0.0


def test_journalctl_killed_mid_stream_restarts_at_the_cursor_without_loss_or_copies(
    tmp_path: Path,
) -> None:
    """Killed while its output is half read (and possibly mid-line): each entry once."""
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 20_000)
    exits = errors("journalctl_exit")
    with opened_partition(source(journal.parent), "j", None) as part:
        first = read(part, 1)
        os.kill(part._child._proc.pid, signal.SIGKILL)
        rest = read(part, 20_000 - len(first), timeout=60)
        time.sleep(1)
        rest += part.next_batch()
    print(f"read before the kill: {len(first)}; restarts: {errors('journalctl_exit') - exits}")
    assert len(first) < 20_000 and errors("journalctl_exit") == exits + 1
    assert messages(first + rest) == [f"entry {i}" for i in range(20_000)]


def test_truncated_and_garbage_appended_journal_files(tmp_path: Path) -> None:
    """journalctl skips a file cut short mid-entry (and says so: logged and counted) and reads
    a file with garbage after its last entry up to that entry; the child is never restarted."""
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 1000)
    cut = rotate(journal, "0001")
    append_entries(journal, 1000, 500)
    garbled = rotate(journal, "0002")
    append_entries(journal, 1500, 100)
    with open(cut, "r+b") as handle:
        handle.truncate(cut.stat().st_size * 6 // 10)
    with open(garbled, "ab") as handle:
        handle.write(b"\x00garbage\xff" * 1000)
    complaints, exits = errors("journalctl_stderr"), errors("journalctl_exit")
    with opened_partition(source(journal.parent), "j", None) as part:
        got = read(part, 600)
        append_entries(journal, 1600, 10)  # still followed
        got += read(part, 10)
        time.sleep(1)
        got += part.next_batch()
    assert messages(got) == [f"entry {i}" for i in range(1000, 1610)]
    assert errors("journalctl_stderr") > complaints and errors("journalctl_exit") == exits


def test_export_output_parses_to_what_json_output_shows(tmp_path: Path) -> None:
    """The reader parses ``-o export``; ``-o json --all`` of the same journal is the reference."""
    journal = tmp_path / "journal" / "system.journal"
    odd = [
        b"line one\nline two\ttabbed",  # framed by journalctl, text in JSON
        "caf\u00e9 \u2603 \U0001f600".encode(),
        b"\x07bell",  # a control character: bytes in both
        b"\xff\xfe not utf-8",
        b"\n\n" + bytes(range(256)),
        b"x" * 70_000,  # beyond JSON's 4096-byte default without --all
        b"a=b=c",
    ]
    export = bytearray()
    for i, value in enumerate(odd):
        export += (
            f"__REALTIME_TIMESTAMP={1_700_000_000_000_000 + i}\n__MONOTONIC_TIMESTAMP={i}\n"
            f"_BOOT_ID={'ab' * 16}\nMESSAGE=odd {i}\nREPEATED=one\nREPEATED=two\n"
        ).encode()
        export += b"ODD\n" + struct.pack("<Q", len(value)) + value + b"\n\n"
    journal.parent.mkdir(parents=True)
    (tmp_path / "in.export").write_bytes(bytes(export))
    subprocess.run(
        [JOURNAL_REMOTE, "-o", str(journal), str(tmp_path / "in.export")],
        check=True,
        capture_output=True,
    )
    base = ["journalctl", f"--directory={journal.parent}", "--no-pager", "--all"]
    as_json = [
        {
            k: bytes(v) if isinstance(v, list) and v and isinstance(v[0], int) else v
            for k, v in json.loads(line).items()
        }
        for line in subprocess.run(
            [*base, "-o", "json"], capture_output=True, check=True
        ).stdout.splitlines()
    ]
    data = subprocess.run([*base, "-o", "export"], capture_output=True, check=True).stdout
    parsed, used = export_format.parse(data)
    assert used == len(data) and len(parsed) == len(odd)
    assert parsed == as_json
