"""File identity, driven through the files partition: which file is which, and which ids."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from logwax.connectors.files.fingerprint import first_line_fingerprint
from logwax.connectors.files.identity import FileState, Seen
from logwax.connectors.files.registry import FileRegistry
from logwax.connectors.files.source import FilesSource
from tests.unit.test_files_source import config, drain

HEAD = "# Version: 1.0\n"


def write(path: Path, *lines: str) -> None:
    with open(path, "a") as out:
        out.writelines(line + "\n" for line in lines)


def test_two_live_files_with_the_same_head_are_two_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.log").write_text(HEAD + f"{name} 1\n{name} 2\n")
    records = drain(FilesSource(config(tmp_path)).build_part("s", "t", None))
    assert sorted(r.message for r in records) == sorted(
        ["# Version: 1.0"] * 2 + ["a 1", "a 2", "b 1", "b 2"]
    )
    assert len({r.event_id for r in records}) == 6
    assert len({r.stream for r in records}) == 2


def test_fingerprint_identity_still_merges_them_as_before(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.log").write_text(HEAD + f"{name} 1\n")
    part = FilesSource(config(tmp_path, file_identity="fingerprint")).build_part("s", "t", None)
    with caplog.at_level(logging.WARNING):
        assert len(drain(part)) == 2  # one of them only: what the option documents
    said = [r.getMessage() for r in caplog.records if "same first line" in r.getMessage()]
    assert len(said) == 1 and "b.log" in said[0]  # said once, not at every scan


def test_rename_inside_the_globs_keeps_identity_and_ids(tmp_path: Path) -> None:
    write(tmp_path / "a.log", "one", "two")
    part = FilesSource(config(tmp_path)).build_part("s", "t", None)
    first = drain(part)
    (tmp_path / "a.log").rename(tmp_path / "z.log")
    write(tmp_path / "z.log", "three")
    after = drain(part)
    assert [r.message for r in after] == ["three"]
    assert after[0].stream == first[0].stream


def test_a_copy_of_a_live_file_is_another_file(tmp_path: Path) -> None:
    write(tmp_path / "a.log", "one", "two")
    part = FilesSource(config(tmp_path)).build_part("s", "t", None)
    assert len(drain(part)) == 2
    shutil.copy(tmp_path / "a.log", tmp_path / "b.log")  # the original lives on untouched
    copied = drain(part)
    assert [r.message for r in copied] == ["one", "two"]
    assert copied[0].fields["log"]["file"]["path"].endswith("b.log")


def test_copytruncate_finishes_the_copy_and_reads_the_truncated_file_anew(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.log"
    write(path, HEAD.strip(), "old 1", "old 2")
    part = FilesSource(config(tmp_path)).build_part("s", "t", None)
    old = drain(part)
    write(path, "old 3", "old 4")  # written, not yet read, then copied and truncated
    shutil.copy(path, tmp_path / "app.log.1")
    with open(path, "r+") as handle:
        handle.truncate(0)
    write(path, HEAD.strip(), "new 1")
    rest = drain(part)
    assert sorted(r.message for r in rest) == sorted(["old 3", "old 4", HEAD.strip(), "new 1"])
    ids = [r.event_id for r in old + rest]
    assert len(set(ids)) == len(ids) == 7
    continued = [r for r in rest if r.message.startswith("old")]
    assert {r.stream for r in continued} == {old[0].stream}  # the copy continues the original


def test_copytruncate_while_down_is_finished_from_the_copy(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    write(path, "line 0", "line 1", "line 2", "line 3")
    source = FilesSource(config(tmp_path))
    first = source.build_part("s", "t", None)
    shipped = first.next_batch()  # 3 lines, then the flow stops
    saved = first.snapshot()
    first.close()
    shutil.copy(path, tmp_path / "app.log.1")
    with open(path, "w") as out:
        out.write("fresh 0\n")
    rest = drain(source.build_part("s", "t", saved))
    assert sorted(r.message for r in rest) == ["fresh 0", "line 3"]
    assert len({r.event_id for r in shipped + rest}) == 5


def test_a_file_first_seen_after_the_snapshot_gets_the_same_ids_on_replay(
    tmp_path: Path,
) -> None:
    write(tmp_path / "a.log", "a")
    source = FilesSource(config(tmp_path))
    first = source.build_part("s", "t", None)
    drain(first)
    saved = first.snapshot()
    for name in ("b", "c"):
        (tmp_path / f"{name}.log").write_text(HEAD + f"{name}\n")
    before_crash = {r.message + r.stream: r.event_id for r in drain(first)}
    (tmp_path / "b.log").unlink()  # gone before the replay: c must keep its ids all the same
    replayed = {r.message + r.stream: r.event_id for r in drain(source.build_part("s", "t", saved))}
    assert replayed and all(before_crash[k] == v for k, v in replayed.items())


def test_snapshot_from_before_identities_resumes_with_the_same_ids(tmp_path: Path) -> None:
    """State as the previous release shaped it: fingerprint → (offset, generation, path)."""
    for name in ("a", "b"):
        (tmp_path / f"{name}.log").write_text(HEAD + f"{name} 1\n{name} 2\n{name} 3\n")
    fingerprint = first_line_fingerprint(HEAD.encode(), 256)
    assert fingerprint is not None
    offset = len(HEAD) + len("a 1\n")  # the old release had handed on a's head and "a 1"
    old_state = {fingerprint: (offset, 0, str(tmp_path / "a.log"))}
    records = drain(FilesSource(config(tmp_path)).build_part("s", "t", old_state))  # type: ignore[arg-type]
    from_a = [r for r in records if r.message.startswith("a")]
    assert [(r.message, r.event_id) for r in from_a] == [
        ("a 2", f"{fingerprint}:{offset}"),
        ("a 3", f"{fingerprint}:{offset + 4}"),
    ]
    assert sorted(r.message for r in records if not r.message.startswith("a")) == [
        "# Version: 1.0",
        "b 1",
        "b 2",
        "b 3",
    ]  # the file the old release never read is read whole, under its own ids
    assert len({r.event_id for r in records}) == 6


def test_an_inode_reused_for_new_content_is_a_new_generation(tmp_path: Path) -> None:
    """Driven on the registry: whether the filesystem hands the inode out again is up to it."""
    path = tmp_path / "a.log"
    path.write_text(HEAD + "old\n")
    registry = FileRegistry("inode_and_fingerprint", None)
    fingerprint = first_line_fingerprint(HEAD.encode(), 256) or ""
    check_of_old = "x" * 16  # the bytes before offset 19 of the deleted file were other bytes
    registry.state["1:2"] = FileState(19, 0, str(path), fingerprint, "s", "1:2", check_of_old)
    seen = Seen(path, "1:2", fingerprint, "s", "1:2", os.stat(path).st_size)
    entry = registry.known(seen)
    assert entry is not None and (entry.offset, entry.generation) == (0, 1)
    assert registry.state["~1:2#0"].offset == 19  # kept, in case a copy of it turns up


def test_a_forgotten_file_leaves_only_its_next_generation(tmp_path: Path) -> None:
    registry = FileRegistry("inode_and_fingerprint", None)
    registry.state["1:2"] = FileState(19, 3, "/x/a.log", "f", "s", "1:2", "c")
    registry.seen["1:2"] = 0.0
    assert registry.forget(now=100.0, after=10.0, keep=set()) == 1
    saved = registry.snapshot()
    assert saved == {"1:2": (4,)}
    resumed = FileRegistry("inode_and_fingerprint", saved)
    assert resumed.new_generation("1:2") == 4  # an inode handed out again: new ids
    assert resumed.new_generation("1:3") == 0


def recreate_on_the_same_inode(path: Path, text: str, between: Callable[[], object]) -> bool:
    """Delete ``path``, call ``between``, write ``text`` to a new file there; True if the
    filesystem handed the freed inode out again (ext4 and tmpfs do, at once)."""
    inode = os.stat(path).st_ino
    path.unlink()
    between()
    path.write_text(text)
    return os.stat(path).st_ino == inode


@pytest.mark.parametrize("forget_after", ["1h", "0s"])
def test_inode_reuse_after_delete_and_create_is_a_new_file_read_from_its_start(
    tmp_path: Path, forget_after: str
) -> None:
    """With ``forget_after`` 0s the deleted file's state is forgotten before the inode comes
    back (only its next generation is kept); with 1h the state is still there."""
    path = tmp_path / "a.log"
    path.write_text(HEAD + "old 1\nold 2\n")
    settings = config(tmp_path, forget_after=forget_after, close_inactive=0)  # handle let go
    part = FilesSource(settings).build_part("s", "t", None)
    old = drain(part)
    if not recreate_on_the_same_inode(path, HEAD + "new 1\nnew 2\nnew 3\n", lambda: drain(part)):
        pytest.skip("this filesystem did not hand the inode out again")
    assert bool(part._files.next_generation) == (forget_after == "0s")
    new = drain(part)
    assert [r.message for r in new] == ["# Version: 1.0", "new 1", "new 2", "new 3"]
    assert not {r.event_id for r in old} & {r.event_id for r in new}


def test_copytruncate_with_the_copy_inside_the_globs_continues_the_original(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.log"
    write(path, "old 1", "old 2")
    part = FilesSource(config(tmp_path, include=[f"{tmp_path}/*.log*"])).build_part("s", "t", None)
    old = drain(part)
    write(path, "old 3")  # not yet read when logrotate copies and truncates
    shutil.copy(path, tmp_path / "app.log.1")
    with open(path, "r+") as handle:
        handle.truncate(0)
    write(path, "new 1")
    rest = drain(part)
    assert sorted(r.message for r in rest) == ["new 1", "old 3"]  # the copy is not read whole
    assert len({r.event_id for r in old + rest}) == 4


def test_path_identity_keeps_a_file_whose_inode_changed_under_the_same_path(
    tmp_path: Path,
) -> None:
    """What a network filesystem does: same path, same bytes, another inode number. The path
    identity reads on from the offset; files with the same head at two paths stay two."""
    for name in ("a", "b"):
        write(tmp_path / f"{name}.log", HEAD.strip(), f"{name} 1")
    part = FilesSource(config(tmp_path, file_identity="path")).build_part("s", "t", None)
    first = drain(part)
    assert len(first) == 4 and len({r.stream for r in first}) == 2
    shutil.copy(tmp_path / "a.log", tmp_path / "a.tmp")
    os.replace(tmp_path / "a.tmp", tmp_path / "a.log")  # new inode, same path and content
    write(tmp_path / "a.log", "a 2")
    after = drain(part)
    assert [r.message for r in after] == ["a 2"]
    assert after[0].stream in {r.stream for r in first}


def legacy_state(path: Path, offset: int) -> dict[str, tuple[int, int, str]]:
    fingerprint = first_line_fingerprint(HEAD.encode(), 256)
    assert fingerprint is not None
    return {fingerprint: (offset, 0, str(path))}


def test_a_pre_identity_entry_is_never_given_another_file_with_the_same_head(
    tmp_path: Path,
) -> None:
    """The previous release's file was deleted while down; another file with its first line
    is there now. It is read from its start: adopting the old offset would lose its head."""
    (tmp_path / "other.log").write_text(HEAD + "other 1\nother 2\n")
    old_state = legacy_state(tmp_path / "gone.log", len(HEAD) + 8)
    records = drain(FilesSource(config(tmp_path)).build_part("s", "t", old_state))  # type: ignore[arg-type]
    assert [r.message for r in records] == ["# Version: 1.0", "other 1", "other 2"]


def test_a_pre_identity_entry_follows_a_rename_and_create_inside_the_globs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.log"
    path.write_text(HEAD + "old 1\nold 2\n")
    old_state = legacy_state(path, len(HEAD) + 6)  # handed on up to "old 1"
    path.rename(tmp_path / "app.log.1")  # rotated while down, still matched by *.log*
    path.write_text("fresh 1\n")
    settings = config(tmp_path, include=[f"{tmp_path}/*.log*"])
    records = drain(FilesSource(settings).build_part("s", "t", old_state))  # type: ignore[arg-type]
    assert sorted(r.message for r in records) == ["fresh 1", "old 2"]


def test_at_max_open_files_the_longest_idle_file_makes_room(tmp_path: Path) -> None:
    """Idle files stay open (close_inactive 1h) until a new file needs the slot; the one
    closed is reopened at its offset when it grows."""
    for name in ("a", "b"):
        write(tmp_path / f"{name}.log", f"{name} 1")
    part = FilesSource(config(tmp_path, max_open_files=2, close_inactive="1h")).build_part(
        "s", "t", None
    )
    assert len(drain(part)) == 2 and len(part._readers) == 2
    write(tmp_path / "c.log", "c 1")
    assert [r.message for r in drain(part)] == ["c 1"]
    assert len(part._readers) == 2
    write(tmp_path / "a.log", "a 2")
    write(tmp_path / "b.log", "b 2")
    assert sorted(r.message for r in drain(part)) == ["a 2", "b 2"]
    assert len(part._readers) == 2


def test_a_rotated_file_waiting_for_a_free_slot_is_not_given_up(tmp_path: Path) -> None:
    write(tmp_path / "busy.log", "busy 1")
    write(tmp_path / "app.log", "app 1")
    source = FilesSource(config(tmp_path, max_open_files=1, close_inactive=0))
    first = source.build_part("s", "t", None)
    drain(first)
    saved = first.snapshot()
    write(tmp_path / "app.log", "app 2")
    (tmp_path / "app.log").rename(tmp_path / "app.log.1")  # rotated out of the globs
    write(tmp_path / "busy.log", *[f"busy {i}" for i in range(2, 40)])  # holds the one slot
    rest = drain(source.build_part("s", "t", saved), 60)
    assert "app 2" in [r.message for r in rest]


def cri(path: Path, prefix: str, count: int) -> list[str]:
    """Append ``count`` CRI lines ``<prefix> <n>``; returns their messages."""
    messages = [f"{prefix} {n}" for n in range(count)]
    with open(path, "a") as out:
        out.writelines(
            f"2026-01-01T00:00:00.{n:09d}Z stdout F {m}\n" for n, m in enumerate(messages)
        )
    return messages


def test_a_file_rotated_unseen_at_the_inode_of_a_known_gzipped_file_is_read_too(
    tmp_path: Path,
) -> None:
    """While logwax was down the kubelet gzipped a file it knew (a new inode) and deleted the
    plain one; the next live file got the freed inode and was rotated too. Its key is then the
    known file's, but its content another's: it is read whole, and the known file is finished
    from its archive. The inode reuse is the filesystem's choice, so the snapshot is written
    as if the known file had lived at the inode the rotated file has now."""
    logs = tmp_path / "pods" / "shop_web-7d_1234-ab" / "nginx"
    logs.mkdir(parents=True)
    live = logs / "0.log"
    (tmp_path / "web.log").symlink_to(live)
    settings = config(tmp_path, format="cri")

    cri(live, "first", 10)
    part = FilesSource(settings).build_part("s", "t", None)
    assert len(drain(part)) == 10
    snapshot, known_inode = part.snapshot(), f"{os.stat(live).st_dev}:{os.stat(live).st_ino}"
    part.close()
    unread = cri(live, "first-after", 5)

    rotated_first = logs / "0.log.20260101-000010"
    live.rename(rotated_first)
    second = cri(live, "second", 7)
    live.rename(logs / "0.log.20260101-000020")
    with open(rotated_first, "rb") as plain, gzip.open(f"{rotated_first}.gz", "wb") as archive:
        shutil.copyfileobj(plain, archive)
    rotated_first.unlink()
    third = cri(live, "third", 3)
    second_stat = os.stat(logs / "0.log.20260101-000020")
    reused = f"{second_stat.st_dev}:{second_stat.st_ino}"
    entry = snapshot.pop(known_inode)
    snapshot[reused] = (*entry[:5], reused, *entry[6:])

    part = FilesSource(settings).build_part("s", "t", snapshot)
    got = [r.message for r in drain(part)]
    part.close()
    assert sorted(got) == sorted(unread + second + third)
