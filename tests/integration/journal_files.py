"""Real journal files made by systemd-journal-remote from journal export format."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

from logwax.connectors.journald.entries import cursor_event_id

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
BOOT_ID = "0123456789abcdef0123456789abcdef"


def boot_id(number: int) -> str:
    """The boot id of boot ``number`` (0 is ``BOOT_ID``), for journals of several boots."""
    return BOOT_ID if number == 0 else f"{number:032x}"


def export_entries(start: int, count: int, unit: str = "app.service", boot: str = BOOT_ID) -> bytes:
    """Export format: ``FIELD=value`` lines, binary fields length-prefixed, blank line between.

    Entry ``i`` is ``MESSAGE=entry i`` with a realtime clock that grows with ``i``; the monotonic
    clock is ``i`` too, which only has to grow within one boot.
    """
    out = bytearray()
    for i in range(start, start + count):
        out += (
            f"__REALTIME_TIMESTAMP={1_700_000_000_000_000 + i * 1000}\n"
            f"__MONOTONIC_TIMESTAMP={i}\n_BOOT_ID={boot}\n"
            f"_SYSTEMD_UNIT={unit}\nPRIORITY=6\nMESSAGE=entry {i}\n"
        ).encode()
        if i % 100 == 0:
            blob = b"\xff\xfe raw " + str(i).encode()
            out += b"BLOB\n" + struct.pack("<Q", len(blob)) + blob + b"\n"
        out += b"\n"
    return bytes(out)


def append_entries(
    journal: Path, start: int, count: int, unit: str = "app.service", boot: str = BOOT_ID
) -> None:
    """Append entries to ``journal`` (created if missing), as journald itself would."""
    if shutil.which(JOURNAL_REMOTE) is None and not Path(JOURNAL_REMOTE).exists():
        raise RuntimeError(
            "systemd-journal-remote is missing: apt-get install systemd-journal-remote"
        )
    journal.parent.mkdir(parents=True, exist_ok=True)
    export = journal.parent / f".in-{start}.export"
    export.write_bytes(export_entries(start, count, unit, boot))
    subprocess.run(
        [JOURNAL_REMOTE, "-o", str(journal), str(export)], check=True, capture_output=True
    )
    export.unlink()


def rotate(journal: Path, suffix: str) -> Path:
    """Archive the active file the way journald names archived files."""
    archived = journal.with_name(f"system@{suffix}.journal")
    journal.rename(archived)
    return archived


def journal_ids(directory: Path) -> list[str]:
    """What journalctl itself says the journal holds, as event ids."""
    out = subprocess.run(
        ["journalctl", f"--directory={directory}", "-o", "json", "--no-pager"],
        capture_output=True,
        check=True,
    ).stdout.splitlines()
    return [cursor_event_id(json.loads(line)["__CURSOR"]) for line in out]
