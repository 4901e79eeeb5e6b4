"""Finding a file that was rotated to a name the include globs do not match.

``app.log`` renamed to ``app.log.1`` while logwax was down (or while the file sat closed as
inactive) still holds lines logwax never read. Vector and Filebeat lose them unless the globs
also match rotated names; we look among its siblings that share the old name as a prefix
(``app.log.1``, ``app.log-20260101``), for the same inode or a copy (see ``registry``). A gzip
archive is such a copy (the kubelet gzips a rotated file at its next rotation and deletes the
plain one): it is matched by its decompressed head and finished at the saved offset (see
``compressed``). Other compressed formats and unfinished archives (``.tmp``) are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

UNREAD = (".bz2", ".xz", ".zst", ".zip", ".tmp")


def rotated_siblings(last_path: str) -> list[Path]:
    """Regular files named like ``last_path`` plus a suffix, plain or gzip, in name order (a
    plain file before its archive: while the kubelet compresses, both exist).

    When ``last_path`` is a link (Kubernetes' ``/var/log/containers/*.log`` point into
    ``/var/log/pods``), the kubelet rotates the file it points to, not the link: the rotated
    file (``0.log.20260101-120000``) is a sibling of the link's target, so those are looked at
    too, after the link's own.
    """
    if not last_path:
        return []
    found = _siblings(Path(last_path))
    target = Path(os.path.realpath(last_path))
    if target != Path(last_path):
        found += [p for p in _siblings(target) if p not in found]
    return found


def _siblings(old: Path) -> list[Path]:
    try:
        return sorted(
            p
            for p in old.parent.iterdir()
            if p.name.startswith(old.name)
            and p.name != old.name
            and not p.name.endswith(UNREAD)
            and p.is_file()
        )
    except OSError:
        return []
