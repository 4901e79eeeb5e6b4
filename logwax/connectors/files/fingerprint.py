"""File identity that survives renames: a hash of the first line, never the path.

Rotation renames files and reuses paths, and copies keep content but change inodes, so neither
path nor inode alone names a file. The first line (up to ``size`` bytes) does. A file whose first
line is shorter than ``size`` is still identified as soon as that line is complete, so short
files are read too; a file with no complete first line yet has nothing to read and waits.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def first_line_fingerprint(head: bytes, size: int) -> str | None:
    """Fingerprint from a file's first bytes, or None while its first line is incomplete."""
    newline = head.find(b"\n", 0, size)
    if newline >= 0:
        identity = head[: newline + 1]
    elif len(head) >= size:
        identity = head[:size]
    else:
        return None
    return hashlib.blake2b(identity, digest_size=8).hexdigest()


def fingerprint_file(path: Path, size: int) -> str | None:
    """Read the head of ``path``; None if it vanished, is unreadable or not yet identifiable."""
    try:
        with open(path, "rb") as handle:
            return first_line_fingerprint(handle.read(size), size)
    except OSError:
        return None
