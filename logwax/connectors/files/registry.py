"""The files a source knows, and the rules that decide where a file found now is read from.

Every decision is made from the snapshot's entries and what is on disk, never from the order
files happened to be seen in, so a flow resumed after a crash decides the same and hands on the
same event ids. The rules, in order:

- A known key (``dev:ino`` by default) with the same head and the bytes before its offset
  unchanged is the same file, wherever it moved: read on from its offset.
- A known key whose content was replaced (other head, shorter than the offset, other bytes
  before the offset: copytruncate, or an inode reused after a delete) is the next generation of
  that key, read from its start with new ids; the old generation stays known so a copy of it
  can finish it.
- A new key whose head and bytes before a known entry's offset match that entry, while the
  entry's own file left its path (truncated, renamed away or deleted), is that entry's copy
  (copytruncate, a restore): read on from the entry's offset with its ids.
- Anything else is a new file, read from its start.
"""

from __future__ import annotations

import time
from pathlib import Path

from logwax.connectors.files.fingerprint import PROVISIONAL
from logwax.connectors.files.identity import (
    FileIdentity,
    FileState,
    Seen,
    check_path,
    named_by_content,
)

RETIRED = "~"  # prefix of keys no scan matches: pre-identity state and replaced generations


def another_file(before: FileState, entry: FileState) -> bool:
    """``known`` gave ``entry`` where ``before`` was: another file at that key (a new generation,
    or a stream of its own), not the same file read on."""
    return (entry.stream, entry.generation) != (before.stream, before.generation)


class FileRegistry:
    """Per-file state of one files partition, and the identity rules over it."""

    def __init__(
        self, identity: FileIdentity, resume: dict[str, tuple[object, ...]] | None
    ) -> None:
        self.identity = identity
        self.state: dict[str, FileState] = {}
        # Keys whose file was forgotten: the next generation to use there, so an inode (or
        # path) handed out again long after never repeats the forgotten file's ids.
        self.next_generation: dict[str, int] = {}
        for key, value in (resume or {}).items():
            if len(value) == 1:
                self.next_generation[key] = int(str(value[0]))
            elif len(value) == len(FileState._fields):
                self.state[key] = FileState(*value)  # type: ignore[arg-type]
            else:  # written before identities: keyed by fingerprint, (offset, generation, path)
                offset, generation, path = value[:3]
                self.state[RETIRED + key] = FileState(
                    int(str(offset)), int(str(generation)), str(path), key, key, "", ""
                )
        self.seen: dict[str, float] = dict.fromkeys(self.state, time.monotonic())

    def snapshot(self) -> dict[str, tuple[object, ...]]:
        """Plain tuples: a snapshot must not depend on where a class lives."""
        state: dict[str, tuple[object, ...]] = {k: (g,) for k, g in self.next_generation.items()}
        state.update((key, tuple(entry)) for key, entry in self.state.items())
        return state

    # -- a key seen by the scan ------------------------------------------------------------
    def known(self, seen: Seen) -> FileState | None:
        """The entry to read ``seen`` with if its key is known (maybe a new generation)."""
        entry = self.state.get(seen.key)
        if entry is None:
            return None
        self.next_generation.pop(seen.key, None)
        if not entry.fingerprint:  # replaced while open: this is its next generation
            return FileState(
                0, entry.generation, str(seen.path), seen.fingerprint, entry.stream, seen.inode, ""
            )
        if self._replaced(entry, seen):
            self.retire(seen.key, entry)
            if seen.fingerprint != entry.fingerprint and named_by_content(seen.stream):
                # another file at a reused inode: its own stream, the one it has anywhere
                return FileState(
                    0, 0, str(seen.path), seen.fingerprint, seen.stream, seen.inode, ""
                )
            return FileState(
                0,
                entry.generation + 1,
                str(seen.path),
                seen.fingerprint,
                entry.stream,
                seen.inode,
                "",
            )
        return entry._replace(path=str(seen.path), inode=seen.inode, fingerprint=seen.fingerprint)

    @staticmethod
    def _replaced(entry: FileState, seen: Seen) -> bool:
        named_early = entry.fingerprint.startswith(PROVISIONAL)  # its first line came later
        if (entry.fingerprint != seen.fingerprint and not named_early) or seen.size < entry.offset:
            return True
        return bool(entry.check) and check_path(seen.path, entry.offset) != entry.check

    def retire(self, key: str, entry: FileState) -> None:
        """Keep a replaced generation where only a copy of it can be matched."""
        if entry.offset > 0:
            retired = f"{RETIRED}{key}#{entry.generation}"
            self.state[retired] = entry
            self.seen[retired] = time.monotonic()

    def replaced_while_open(self, key: str, entry: FileState) -> None:
        """Content under an open file was replaced: retire it, next sighting is a new one."""
        self.retire(key, entry)
        self.state[key] = entry._replace(
            offset=0, generation=entry.generation + 1, fingerprint="", check=""
        )

    def adopt(
        self, fresh: list[Seen], matched: set[str], open_keys: set[str]
    ) -> dict[str, FileState]:
        """Entries for keys not known: a copy or an upgraded entry, or None for a new file."""
        adopted: dict[str, FileState] = {}
        heads = {(str(s.path), s.fingerprint) for s in fresh}
        for seen in fresh:
            for key, entry in list(self.state.items()):
                if key in matched or key in open_keys or entry.fingerprint != seen.fingerprint:
                    continue
                if self._continues(entry, seen, heads):
                    del self.state[key]
                    adopted[seen.key] = entry._replace(path=str(seen.path), inode=seen.inode)
                    break
        return adopted

    def _continues(self, entry: FileState, seen: Seen, heads: set[tuple[str, str]]) -> bool:
        if seen.size < entry.offset:
            return False
        if not entry.check:
            # Pre-identity entry, known by its head and path only: the file at that path, or
            # one renamed to a longer name (``app.log.1``) while that path lost this head.
            # Never any other file with the same head: it would lose that file's beginning.
            if entry.path == str(seen.path):
                return True
            old = Path(entry.path)
            renamed = seen.path.parent == old.parent and seen.path.name.startswith(old.name)
            return renamed and (entry.path, entry.fingerprint) not in heads
        return check_path(seen.path, entry.offset) == entry.check

    # -- files that left the globs ---------------------------------------------------------
    def follows(self, key: str, entry: FileState, seen: Seen) -> bool:
        """``seen`` (outside the globs) is the renamed file of ``entry`` or its copy. A file
        known under a key of its own is read as itself, never also as another's copy."""
        origin = key.removeprefix(RETIRED).rsplit("#", 1)[0]
        if seen.key not in (key, origin) and seen.key in self.state:
            return False
        if seen.fingerprint != entry.fingerprint or seen.size < entry.offset:
            return False
        replaced = key.startswith(RETIRED) and "#" in key  # a generation whose inode moved on
        if entry.inode and seen.inode == entry.inode:
            return not replaced  # renamed: same inode, same head; else the new content
        if not entry.check:
            return True  # pre-identity entry: the fingerprint is all it knew
        return check_path(seen.path, entry.offset) == entry.check

    # -- memory ----------------------------------------------------------------------------
    def forget(self, now: float, after: float, keep: set[str]) -> int:
        """Drop the entries of files not seen for ``after`` seconds; returns how many. Of a
        key a scan can match again only the next generation number stays."""
        gone = [k for k, t in self.seen.items() if now - t > after and k not in keep]
        for key in gone:
            del self.seen[key]
            entry = self.state.pop(key, None)
            if entry is not None and not key.startswith(RETIRED):
                self.next_generation[key] = max(
                    self.next_generation.get(key, 0), entry.generation + 1
                )
        return len(gone)

    def new_generation(self, key: str) -> int:
        """Generation for a file first seen at ``key``: 0 unless a forgotten file had it."""
        return self.next_generation.pop(key, 0)
