"""File identity that survives renames: a hash of the first line, never the path.

Rotation renames files and reuses paths, and copies keep content but change inodes, so neither
path nor inode alone names a file. The first line (up to ``size`` bytes) does. A file whose first
line is shorter than ``size`` is still identified as soon as that line is complete, so short
files are read too. A file with no complete first line waits, until it has been left alone for
the partial timeout: then it gets a provisional name (``partial-`` and a hash of what it has), so a
1-byte file that never gets a newline is still shipped.
"""

from __future__ import annotations

import hashlib

PROVISIONAL = "partial-"


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


def provisional_fingerprint(head: bytes) -> str:
    return PROVISIONAL + hashlib.blake2b(head, digest_size=7).hexdigest()
