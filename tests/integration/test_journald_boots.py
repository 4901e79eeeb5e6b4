"""Every boot of a real journal, through the real journalctl: three boots, reboots, lost cursors.

``journalctl --follow`` reads only the current boot since systemd 250 unless ``--merge`` is given;
these tests fail with the old command line (every earlier boot, and the tail of the boot a
cursor was saved in, missing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from logwax.connectors.journald import JournaldSource, JournaldSourceConfig
from logwax.core.record import Record
from tests.integration.flow_runs import opened_partition, read_partition
from tests.integration.journal_files import append_entries, boot_id, rotate

PER_BOOT = 300


def part(directory: Path | None, cursor: str | None = None, **options: Any) -> Any:
    """A partition of a journald source on ``directory``, closed (journalctl stopped) after."""
    config = JournaldSourceConfig(type="journald", name="boots", directory=directory, **options)
    return opened_partition(JournaldSource(config), "boots", cursor)


def read_until_quiet(part: Any, want: int) -> list[Record]:
    """``want`` records, then whatever else comes within a second (nothing, if all is well)."""
    got = read_partition(part, want, timeout=30)
    return got + read_partition(part, 10**9, timeout=1)


def numbers(records: list[Record]) -> list[int]:
    return [int(r.message.removeprefix("entry ")) for r in records]


def three_boots(journal: Path) -> None:
    """Boot 0 archived, boots 1 and 2 in the active file, as journald leaves them after reboots."""
    append_entries(journal, 0, PER_BOOT, boot=boot_id(0))
    rotate(journal, "0001")
    append_entries(journal, PER_BOOT, PER_BOOT, boot=boot_id(1))
    append_entries(journal, 2 * PER_BOOT, PER_BOOT, boot=boot_id(2))


def cursor_errors() -> float:
    value = REGISTRY.get_sample_value(
        "logwax_source_errors_total", {"source": "boots", "reason": "cursor_not_found"}
    )
    return value or 0.0


def test_every_entry_of_three_boots_and_another_machine_is_read_once(tmp_path: Path) -> None:
    journal = tmp_path / "journal" / "system.journal"
    three_boots(journal)
    # Another machine's journal in the same directory (its own file, seqnum id and boot).
    append_entries(journal.with_name("remote-other.journal"), 10_000, 50, boot=boot_id(9))
    with part(journal.parent) as source:
        got = read_until_quiet(source, 3 * PER_BOOT + 50)
        # Still followed. Later in time than the other machine's entries: journalctl's merged
        # view skips an entry older than the last one it printed from another journal.
        append_entries(journal, 20_000, 20, boot=boot_id(2))
        got += read_until_quiet(source, 20)
    expected = [*range(3 * PER_BOOT), *range(10_000, 10_050), *range(20_000, 20_020)]
    assert sorted(numbers(got)) == expected
    assert len({r.event_id for r in got}) == len(got)
    ours = [n for n in numbers(got) if not 10_000 <= n < 20_000]
    assert ours == sorted(ours)  # journald's order within one machine
    assert {r.stream.split("/")[0] for r in got} == {boot_id(b) for b in (0, 1, 2, 9)}


def test_current_boot_only_reads_exactly_the_last_boot(tmp_path: Path) -> None:
    journal = tmp_path / "journal" / "system.journal"
    three_boots(journal)
    with part(journal.parent, current_boot_only=True) as source:
        got = read_until_quiet(source, PER_BOOT)
        append_entries(journal, 3 * PER_BOOT, 20, boot=boot_id(2))
        got += read_until_quiet(source, 20)
    assert numbers(got) == list(range(2 * PER_BOOT, 3 * PER_BOOT + 20))


def test_resuming_in_an_earlier_boot_reads_its_tail_then_each_later_boot(tmp_path: Path) -> None:
    """logwax stopped mid-boot; the boot's last entries and two more boots came meanwhile."""
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 200, boot=boot_id(0))
    with part(journal.parent) as source:
        before = read_partition(source, 120, timeout=30)[:120]
    cursor = str(before[-1].fields["journald_cursor"])  # stopped after entry 119

    append_entries(journal, 200, 100, boot=boot_id(0))  # the shutdown logs
    rotate(journal, "0002")
    append_entries(journal, 300, PER_BOOT, boot=boot_id(1))
    append_entries(journal, 300 + PER_BOOT, PER_BOOT, boot=boot_id(2))
    with part(journal.parent, cursor) as resumed:
        after = read_until_quiet(resumed, 180 + 2 * PER_BOOT)
    assert numbers(after) == list(range(120, 300 + 2 * PER_BOOT))  # once each, in order


def test_a_cursor_of_a_vacuumed_file_falls_back_to_the_oldest_entry(tmp_path: Path) -> None:
    """journalctl --after-cursor would silently skip the first entry still held (entry 200)."""
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 200, boot=boot_id(0))
    with part(journal.parent) as source:
        cursor = str(read_partition(source, 200)[100].fields["journald_cursor"])
    archived = rotate(journal, "0003")
    append_entries(journal, 200, 50, boot=boot_id(1))
    archived.unlink()  # journald --vacuum-* removed the archived file
    errors = cursor_errors()
    with part(journal.parent, cursor) as resumed:
        got = read_until_quiet(resumed, 50)
    assert numbers(got) == list(range(200, 250))
    assert cursor_errors() == errors + 1


def test_a_cursor_of_another_journal_falls_back_to_the_oldest_entry(tmp_path: Path) -> None:
    other = tmp_path / "other" / "system.journal"
    append_entries(other, 5_000, 10, boot=boot_id(7))
    with part(other.parent) as source:
        foreign = str(read_partition(source, 10)[-1].fields["journald_cursor"])
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 100, boot=boot_id(0))
    errors = cursor_errors()
    # The fallback ignores since_now.
    with part(journal.parent, foreign, since_now=True) as resumed:
        got = read_until_quiet(resumed, 100)
    assert numbers(got) == list(range(100))
    assert cursor_errors() == errors + 1


def test_explicit_files_of_three_boots_rotated_and_active_are_read_once(tmp_path: Path) -> None:
    journal = tmp_path / "journal" / "system.journal"
    three_boots(journal)
    append_entries(journal.with_name("ignored.journal"), 10_000, 5, boot=boot_id(9))
    with part(None, files=[str(journal.parent / "system*.journal")]) as source:
        got = read_until_quiet(source, 3 * PER_BOOT)
    assert numbers(got) == list(range(3 * PER_BOOT))


def test_current_boot_only_resumed_after_a_reboot_reads_the_new_boot_whole(
    tmp_path: Path,
) -> None:
    """The saved cursor is in the previous boot, which this source no longer reads."""
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 100, boot=boot_id(0))
    with part(journal.parent, current_boot_only=True) as source:
        cursor = str(read_partition(source, 100)[50].fields["journald_cursor"])
    append_entries(journal, 100, 50, boot=boot_id(0))
    append_entries(journal, 150, 80, boot=boot_id(1))
    errors = cursor_errors()
    with part(journal.parent, cursor, current_boot_only=True) as resumed:
        got = read_until_quiet(resumed, 80)
    assert numbers(got) == list(range(150, 230))
    assert cursor_errors() == errors + 1


def test_a_damaged_cursor_falls_back_to_the_oldest_entry_not_a_restart_loop(
    tmp_path: Path,
) -> None:
    """journalctl exits at once on a cursor it cannot parse; restarting with it would loop."""
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 100, boot=boot_id(0))
    errors = cursor_errors()
    with part(journal.parent, "s=not;a=cursor") as resumed:
        got = read_until_quiet(resumed, 100)
    assert numbers(got) == list(range(100))
    assert cursor_errors() == errors + 1
