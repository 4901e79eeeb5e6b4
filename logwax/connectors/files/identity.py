"""Which file is which: the key a file's offset is kept under, and the stream its ids come from.

A head fingerprint alone merges two live files that start alike (a banner, a CSV header), and
the second is then never read. So by default a file is its (device, inode) while it lives,
confirmed by the fingerprint of its first line: a rename keeps both, two files with the same head
differ by inode, and an inode reused for new content differs by fingerprint or by generation.
``fingerprint`` keeps the old behaviour for copies that change inode; ``path`` is for network
filesystems whose inode numbers are not stable.

The stream (the prefix of every event id, and the dedup and Kafka key) is fixed the first time a
file is seen and kept in the snapshot, so ids stay the same across renames, restarts and replays,
and state written before identities existed keeps its ids (the bare fingerprint).
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path
from typing import Literal, NamedTuple

from logwax.connectors.files import compressed
from logwax.connectors.files.fingerprint import first_line_fingerprint, provisional_fingerprint
from logwax.connectors.files.kubernetes_paths import container_log

FileIdentity = Literal["inode_and_fingerprint", "fingerprint", "path"]
CHECK_BYTES = 64
CONTENT_STREAM = "k"  # a stream named by content and container, not inode (kubelet files)


class FileState(NamedTuple):
    """What the snapshot keeps per file. ``offset``: first byte not yet handed on.
    ``generation``: content replaced at the same key (copytruncate, inode reuse) so ids change.
    ``path``: where it was last seen, a hint for finding it after rotation. ``inode``: its
    ``dev:ino`` then. ``check``: a hash of the bytes just before ``offset``, so a file that
    merely looks the same (same head, same inode, long enough) is not taken for ours."""

    offset: int
    generation: int
    path: str
    fingerprint: str
    stream: str
    inode: str
    check: str


class Seen(NamedTuple):
    """A regular file found at ``path`` now."""

    path: Path
    key: str
    fingerprint: str
    stream: str
    inode: str
    size: int


def inode_of(result: os.stat_result) -> str:
    return f"{result.st_dev}:{result.st_ino}"


def key_for(identity: FileIdentity, fingerprint: str, inode: str, path: Path) -> str:
    if identity == "inode_and_fingerprint":
        return inode
    if identity == "fingerprint":
        return fingerprint
    return str(path)


def stream_for(identity: FileIdentity, fingerprint: str, inode: str, path: Path) -> str:
    """Fingerprint plus what tells two files with that head apart: unique while both live.

    A kubelet log file is told apart by its container's log name instead of its inode
    (``CONTENT_STREAM``): the kubelet gzips rotated files (a new inode) and deletes the plain
    one, whose inode the next live file often gets. Ids from the inode then depended on which
    file a snapshot had seen at that inode: a collector killed after reading a file its last
    snapshot did not know read it again under other ids (duplicates), and gave the next file
    at that inode the same ids as the first (lines dropped as already delivered). Each CRI file
    starts with a nanosecond timestamp, so its head and container name it alone, wherever it
    is and whatever its inode."""
    container = container_log(path) if identity == "inode_and_fingerprint" else None
    if container is not None:
        return f"{fingerprint}.{CONTENT_STREAM}{_short_hash(container)}"
    if identity == "inode_and_fingerprint":
        dev, ino = inode.split(":")
        return f"{fingerprint}.{int(dev):x}-{int(ino):x}"
    if identity == "fingerprint":
        return fingerprint
    return f"{fingerprint}.{_short_hash(str(path))}"


def named_by_content(stream: str) -> bool:
    """A stream of a kubelet log file: the same wherever its file is, always generation 0."""
    return stream.rsplit(".", 1)[-1].startswith(CONTENT_STREAM)


def _short_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def quick_key(identity: FileIdentity, path: Path) -> str | None:
    """The key without reading the file, when the identity allows: lets a scan skip open files."""
    if identity == "fingerprint":
        return None
    if identity == "path":
        return str(path)
    try:
        return inode_of(os.stat(path))
    except OSError:
        return None


def identify(
    identity: FileIdentity, path: Path, fingerprint_bytes: int, provisional_after: float
) -> Seen | None:
    """Who the regular file at ``path`` is; None if it is gone, not regular, or has no complete
    first line yet and was written to less than ``provisional_after`` seconds ago. Raises the
    ``OSError`` of a file that is there but cannot be read (permissions), for the caller to
    report. Opened non-blocking and checked with ``fstat``, so a FIFO or device swapped in
    after the glob's check cannot hang the source. A gzip file (a rotated log the kubelet
    compressed) is identified by its decompressed head and size (see ``compressed``)."""
    if compressed.is_gzip(path):
        return _identify_gzip(identity, path, fingerprint_bytes)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        result = os.fstat(fd)
        if not stat.S_ISREG(result.st_mode):
            return None
        head = os.pread(fd, fingerprint_bytes, 0)
    finally:
        os.close(fd)
    fingerprint = first_line_fingerprint(head, fingerprint_bytes)
    if fingerprint is None:
        if not head or time.time() - result.st_mtime < provisional_after:
            return None
        fingerprint = provisional_fingerprint(head)
    return _seen(identity, path, fingerprint, inode_of(result), result.st_size)


def _identify_gzip(identity: FileIdentity, path: Path, fingerprint_bytes: int) -> Seen | None:
    try:
        result = os.stat(path)
        if not stat.S_ISREG(result.st_mode):
            return None
        head = compressed.head(path, fingerprint_bytes)
        size = compressed.decompressed_size(path)
    except FileNotFoundError:
        return None
    fingerprint = first_line_fingerprint(head, fingerprint_bytes)
    if fingerprint is None:  # an archive is complete: its head is all there will be
        if not head:
            return None
        fingerprint = provisional_fingerprint(head)
    return _seen(identity, path, fingerprint, inode_of(result), size)


def _seen(identity: FileIdentity, path: Path, fingerprint: str, inode: str, size: int) -> Seen:
    """What one look at a file (plain or archived) found, its key and stream as ``identity``
    makes them."""
    return Seen(
        path,
        key_for(identity, fingerprint, inode, path),
        fingerprint,
        stream_for(identity, fingerprint, inode, path),
        inode,
        size,
    )


def check_at(fd: int, offset: int) -> str:
    """Hash of the bytes before ``offset``: the content a continuation must have there."""
    start = max(0, offset - CHECK_BYTES)
    data = os.pread(fd, offset - start, start)
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def check_path(path: Path, offset: int) -> str | None:
    try:
        if compressed.is_gzip(path):
            fd = compressed.decompress_into(path, max(0, offset - CHECK_BYTES), 0)
        else:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return check_at(fd, offset)
    except OSError:
        return None
    finally:
        os.close(fd)
