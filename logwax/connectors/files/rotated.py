"""Finding a file that was rotated to a name the include globs do not match.

``app.log`` renamed to ``app.log.1`` while logwax was down (or while the file sat closed as
inactive) still holds lines logwax never read. Vector and Filebeat lose them unless the globs
also match rotated names; we look among its siblings that share the old name as a prefix
(``app.log.1``, ``app.log-20260101``), skipping compressed archives, for the same inode or a
copy (see ``registry``).
"""

from __future__ import annotations

from pathlib import Path

COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")


def rotated_siblings(last_path: str) -> list[Path]:
    """Regular files named like ``last_path`` plus a suffix, uncompressed, in name order."""
    if not last_path:
        return []
    old = Path(last_path)
    try:
        return sorted(
            p
            for p in old.parent.iterdir()
            if p.name.startswith(old.name)
            and p.name != old.name
            and not p.name.endswith(COMPRESSED)
            and p.is_file()
        )
    except OSError:
        return []
