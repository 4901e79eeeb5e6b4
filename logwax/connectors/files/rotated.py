"""Finding a file that was rotated to a name the include globs do not match.

``app.log`` renamed to ``app.log.1`` while logwax was down (or while the file sat closed as
inactive) still holds lines logwax never read. Vector and Filebeat lose them unless the globs
also match rotated names; we look for the file's fingerprint among its siblings that share the
old name as a prefix (``app.log.1``, ``app.log-20260101``), skipping compressed archives.
"""

from __future__ import annotations

from pathlib import Path

from logwax.connectors.files.fingerprint import fingerprint_file

COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")


def find_rotated(fingerprint: str, last_path: str, fingerprint_bytes: int) -> Path | None:
    if not last_path:
        return None
    old = Path(last_path)
    try:
        siblings = [
            p
            for p in old.parent.iterdir()
            if p.name.startswith(old.name)
            and p.name != old.name
            and not p.name.endswith(COMPRESSED)
            and p.is_file()
        ]
    except OSError:
        return None
    for candidate in sorted(siblings):
        if fingerprint_file(candidate, fingerprint_bytes) == fingerprint:
            return candidate
    return None
