"""The decompressed copy of a gzipped log has the plain file's bytes at the plain file's offsets,
so lines read from it keep their event ids."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from logwax.connectors.files.compressed import decompress_into, decompressed_size, head
from logwax.connectors.files.identity import check_path, identify


def test_an_archive_reads_like_the_plain_file_it_was(tmp_path: Path) -> None:
    plain = tmp_path / "0.log.20260101-120000"
    data = b"".join(b"line %06d %s\n" % (n, b"x" * (n % 300)) for n in range(20_000))
    plain.write_bytes(data)
    archive = tmp_path / f"{plain.name}.gz"
    archive.write_bytes(gzip.compress(data))
    offset = data.index(b"line 012345")

    assert decompressed_size(archive) == len(data)
    assert head(archive, 256) == data[:256]
    assert check_path(archive, offset) == check_path(plain, offset)
    seen_plain, seen_archive = (
        identify("inode_and_fingerprint", plain, 256, 5.0),
        identify("inode_and_fingerprint", archive, 256, 5.0),
    )
    assert seen_plain is not None and seen_archive is not None
    assert (seen_archive.fingerprint, seen_archive.size) == (seen_plain.fingerprint, len(data))

    fd = decompress_into(archive, offset - 64, 256)
    try:
        assert os.fstat(fd).st_size == len(data)
        assert os.pread(fd, 256, 0) == data[:256]
        assert os.pread(fd, len(data), offset - 64) == data[offset - 64 :]
        assert os.pread(fd, 100, 1000) == bytes(100)  # skipped: a hole, no memory
    finally:
        os.close(fd)


def test_a_cut_short_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "0.log.20260101-120000.gz"
    archive.write_bytes(gzip.compress(b"a line\n" * 10_000)[:-20])
    try:
        os.close(decompress_into(archive, 0, 256))
    except OSError:
        return
    raise AssertionError("a cut-short archive was read as complete")


def test_archives_rotated_unseen_are_read_a_few_at_a_time(tmp_path: Path) -> None:
    """A new container whose log the kubelet rotated and gzipped six times before the first scan:
    every archive is read, never more than ``MAX_OPEN_ARCHIVES`` decompressed at once."""
    from logwax.connectors.files.compressed import MAX_OPEN_ARCHIVES
    from logwax.connectors.files.config import FilesSourceConfig
    from logwax.connectors.files.source import FilesSource

    logs = tmp_path / "pods" / "shop_web-7d_1234-ab" / "nginx"
    logs.mkdir(parents=True)
    expected = []
    for n in range(6):
        lines = [f"archive={n} line={i}" for i in range(50)]
        expected += lines
        stamp = f"2026-01-01T00:00:0{n}"
        body = "".join(f"{stamp}.{i:09d}Z stdout F {text}\n" for i, text in enumerate(lines))
        (logs / f"0.log.20260101-00000{n}.gz").write_bytes(gzip.compress(body.encode()))
    (logs / "0.log").write_text("2026-01-01T00:01:00.000000000Z stdout F live\n")
    expected.append("live")
    (tmp_path / "web.log").symlink_to(logs / "0.log")
    settings = {"type": "files", "name": "t", "include": [f"{tmp_path}/*.log"]}
    config = FilesSourceConfig.model_validate({**settings, "format": "cri", "scan_interval": 0})
    part = FilesSource(config).build_part("s", "t", None)
    got, most_open = [], 0
    for _ in range(50):
        got += [r.message for r in part.next_batch()]
        archives = [r for r in part._readers.values() if str(r.tailed.path).endswith(".gz")]
        most_open = max(most_open, len(archives))
    part.close()
    assert sorted(got) == sorted(expected)
    assert 0 < most_open <= MAX_OPEN_ARCHIVES
