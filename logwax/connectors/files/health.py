"""``logwax check`` for a files source: which files match, and can they be read.

It reports what the source would: a directory, FIFO, socket or device matched by the globs is
named, not opened (opening a FIFO blocks until a writer comes, which would hang the check).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import stat

from logwax.connectors.files.config import FilesSourceConfig


def probe(config: FilesSourceConfig) -> str:
    matched = sorted(
        p
        for p in {p for pattern in config.include for p in glob.glob(pattern, recursive=True)}
        if not any(fnmatch.fnmatch(p, x) for x in config.exclude)
    )
    unreadable, skipped = [], []
    for path in matched:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            unreadable.append(f"{path} ({exc.strerror})")
            continue
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.read(fd, 1)
            else:
                skipped.append(path)
        except OSError as exc:
            unreadable.append(f"{path} ({exc.strerror})")
        finally:
            os.close(fd)
    if unreadable:
        raise RuntimeError(f"cannot read {', '.join(unreadable[:5])}")
    files = len(matched) - len(skipped)
    note = f"; not regular files, refused: {', '.join(skipped[:5])}" if skipped else ""
    found = f"{files} files match {config.include}{note}"
    if config.kubernetes_metadata is not None:
        from logwax.connectors.k8s_metadata.health import probe as probe_kubernetes

        found += "; " + probe_kubernetes(config.kubernetes_metadata)
    return found
