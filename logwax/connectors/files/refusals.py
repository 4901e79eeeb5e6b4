"""Matched paths a files source will not read, each said once in the log and counted.

A glob can match a directory, a FIFO (opening one blocks), a socket, a device node or a symlink
loop; a file can be unreadable. Saying so on every scan would bury the log, saying nothing
would be a silent drop: each path is logged once when it starts being refused and again only
after it was readable in between, and the ``logwax_source_errors`` counter moves each time.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from logwax.core.metrics import SOURCE_ERRORS

log = logging.getLogger("logwax.connectors.files.source")


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


class Refusals:
    """What one source refused, so each refusal is reported once."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._refused: dict[str, str] = {}
        self._empty_warned = False

    def _refuse(self, path: Path, reason: str, why: str) -> None:
        if self._refused.get(str(path)) == reason:
            return
        self._refused[str(path)] = reason
        SOURCE_ERRORS.labels(self._source, reason).inc()
        log.warning("source=%s path=%s refused: %s", self._source, path, why)

    def regular_only(self, paths: list[Path], patterns: list[str]) -> list[Path]:
        """The regular files among ``paths`` (symlinks followed); the rest refused once."""
        current = {str(p) for p in paths}
        self._refused = {p: r for p, r in self._refused.items() if p in current}
        regular = []
        for path in paths:
            try:
                mode = os.stat(path).st_mode
            except OSError as exc:  # a symlink loop or dangling link, or gone meanwhile
                if os.path.islink(path):
                    self._refuse(path, "bad_symlink", f"cannot follow symlink ({exc.strerror})")
                continue
            if stat.S_ISREG(mode):
                regular.append(path)
            else:
                self._refuse(path, "not_a_file", f"a {_kind(mode)}, not a regular file")
        if not paths and not self._empty_warned:
            self._empty_warned = True
            SOURCE_ERRORS.labels(self._source, "no_match").inc()
            log.warning(
                "source=%s include=%s matches no file yet; still watching", self._source, patterns
            )
        elif paths:
            self._empty_warned = False
        return regular

    def same_head(self, path: Path) -> None:
        self._refuse(
            path,
            "same_fingerprint",
            "same first line as another file; with file_identity: fingerprint they are one "
            "file and this one is not read (use inode_and_fingerprint)",
        )

    def cannot_open(self, path: Path, exc: OSError) -> None:
        self._refuse(path, "open", f"cannot open ({exc.strerror}); retried every scan")

    def opened(self, path: Path) -> None:
        self._refused.pop(str(path), None)
