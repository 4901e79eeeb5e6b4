"""Reading the rest of a file that was compressed after rotation, at the offsets it had plain.

The kubelet rotates ``0.log`` to ``0.log.<YYYYmmdd-HHMMSS>`` and, at its next rotation, gzips
that file to ``0.log.<...>.gz`` (a new inode) and deletes the plain one; with
``containerLogMaxFiles: 3`` a plain rotated file lives one rotation period only. A collector
down across two rotations finds its file only as the ``.gz``. Its decompressed bytes are the
plain file's bytes, so the saved offset, the head fingerprint and the check bytes before that
offset all still apply: lines read from it get the offsets, hence the event ids, the plain file
would have given, and exactly-once holds.

The decompressed copy is a sparse in-memory file (``memfd``): only the head (for the
fingerprint) and what follows the resume offset take memory, and ``TailedFile`` reads it like
any file. Only gzip is read; it is what the kubelet writes.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

GZIP_SUFFIX = ".gz"
# Archives held decompressed at once; the others wait for a scan. An archive read from its start
# takes its whole size in memory (the kubelet's containerLogMaxSize, 10 MiB by default), and
# after a long outage a node may have one per container: all at once would not fit the pod.
MAX_OPEN_ARCHIVES = 4
_CHUNK = 256 * 1024


def is_gzip(path: Path | str) -> bool:
    return str(path).endswith(GZIP_SUFFIX)


def decompressed_size(path: Path) -> int:
    """The plain size, from the gzip trailer (ISIZE, the size modulo 2**32): no decompression.
    The kubelet writes one gzip member per file, and its files are far below 4 GiB."""
    with open(path, "rb") as handle:
        handle.seek(-4, os.SEEK_END)
        (size,) = struct.unpack("<I", handle.read(4))
    return int(size)


def decompress_into(path: Path, keep_from: int, head_bytes: int) -> int:
    """A sparse memfd holding the decompressed ``path``: its first ``head_bytes`` and everything
    from ``keep_from`` on; the bytes between are a hole. Returns the fd (the caller owns it).
    Raises ``OSError`` for a bad or cut-short archive."""
    fd = os.memfd_create(f"logwax-gzip:{path.name}", os.MFD_CLOEXEC)
    try:
        inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        position = 0
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                position = _keep(fd, inflate.decompress(chunk), position, keep_from, head_bytes)
                if inflate.eof:
                    break
        position = _keep(fd, inflate.flush(), position, keep_from, head_bytes)
        if not inflate.eof:
            raise OSError(f"{path}: gzip stream ends early")
        os.ftruncate(fd, position)
        return fd
    except zlib.error as exc:
        os.close(fd)
        raise OSError(f"{path}: {exc}") from exc
    except BaseException:
        os.close(fd)
        raise


def _keep(fd: int, data: bytes, position: int, keep_from: int, head_bytes: int) -> int:
    """Write the parts of ``data`` (at ``position`` in the plain file) that are kept."""
    end = position + len(data)
    if position < head_bytes:
        os.pwrite(fd, data[: head_bytes - position], position)
    if end > keep_from:
        start = max(position, keep_from)
        os.pwrite(fd, data[start - position :], start)
    return end


def head(path: Path, size: int) -> bytes:
    """The first ``size`` decompressed bytes, decompressing no more than needed."""
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = b""
    try:
        with open(path, "rb") as handle:
            while len(out) < size and (chunk := handle.read(16 * 1024)):
                out += inflate.decompress(chunk, size - len(out))
                while len(out) < size and inflate.unconsumed_tail:
                    out += inflate.decompress(inflate.unconsumed_tail, size - len(out))
    except zlib.error as exc:
        raise OSError(f"{path}: {exc}") from exc
    return out[:size]
