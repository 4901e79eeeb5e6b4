from __future__ import annotations

from pathlib import Path

from logwax.connectors.files.fingerprint import first_line_fingerprint
from logwax.connectors.files.tail import TailedFile


def tail(path: Path, offset: int = 0, max_line: int = 1024) -> TailedFile:
    return TailedFile.open("fp", path, offset, max_line)


def test_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\ntw")
    reader = tail(path)
    assert [line.text for line in reader.read_lines(100)] == ["one"]
    assert reader.offset == 4
    with open(path, "ab") as out:
        out.write(b"o\nthree\n")
    lines = reader.read_lines(100)
    assert [(line.offset, line.text) for line in lines] == [(4, "two"), (8, "three")]
    assert reader.offset == path.stat().st_size


def test_resuming_at_the_saved_offset_continues_exactly(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"".join(f"line {i}\n".encode() for i in range(10)))
    first = tail(path)
    head = first.read_lines(4)
    resumed = tail(path, offset=first.offset)
    rest = resumed.read_lines(100)
    assert [line.text for line in head + rest] == [f"line {i}" for i in range(10)]


def test_invalid_utf8_is_replaced_and_flagged_crlf_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"ok\r\nbad \xff\xfe here\n")
    ok, bad = tail(path).read_lines(10)
    assert (ok.text, ok.invalid_utf8) == ("ok", False)
    assert bad.invalid_utf8 and bad.text == "bad \ufffd\ufffd here"


def test_overlong_line_is_truncated_flagged_and_the_next_line_survives(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    long_line = b"x" * 5000
    path.write_bytes(b"before\n" + long_line + b"\nafter\n")
    lines = tail(path, max_line=1024).read_lines(10)
    assert [line.text for line in lines] == ["before", "x" * 1024, "after"]
    assert [line.truncated for line in lines] == [False, True, False]
    assert lines[1].offset == 7 and lines[2].offset == 7 + 5001


def test_endless_line_without_newline_is_cut_and_skipped_until_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"y" * 3000)
    reader = tail(path, max_line=1024)
    first = reader.read_lines(10)
    assert [(line.text, line.truncated) for line in first] == [("y" * 1024, True)]
    assert reader.offset == 0  # a crash now replays the same truncated head, same offset
    with open(path, "ab") as out:
        out.write(b"yyy\nnext\n")
    assert [line.text for line in reader.read_lines(10)] == ["next"]
    assert reader.offset == path.stat().st_size


def test_fingerprint_uses_the_first_line_and_waits_for_it() -> None:
    assert first_line_fingerprint(b"no newline yet", 256) is None
    short = first_line_fingerprint(b"header\nbody", 256)
    assert short == first_line_fingerprint(b"header\nother body entirely", 256)
    assert short != first_line_fingerprint(b"header2\nbody", 256)
    assert first_line_fingerprint(b"z" * 300, 256) == first_line_fingerprint(b"z" * 256, 256)


def test_lines_needing_care_amid_plain_ones_keep_exact_offsets(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    content = b"plain\r\n" + b"z" * 40 + b"\n\xc3\xa9t\xc3\xa9\nlast\n"
    path.write_bytes(content)
    lines = tail(path, max_line=16).read_lines(3)
    assert [(line.offset, line.text, line.truncated) for line in lines] == [
        (0, "plain", False),
        (7, "z" * 16, True),
        (48, "été", False),
    ]
    rest = tail(path, offset=lines[-1].offset + 6, max_line=16).read_lines(10)
    assert [(line.offset, line.text) for line in rest] == [(54, "last")]
