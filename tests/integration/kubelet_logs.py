"""A container's log files laid out and rotated the way the kubelet does it, without a kubelet.

``/var/log/pods/<ns>_<pod>_<uid>/<container>/0.log`` in the CRI format, linked from
``/var/log/containers/<pod>_<ns>_<container>-<id>.log``. A rotation is the kubelet's
``rotateLog`` with ``containerLogMaxFiles: 3``: rotated files beyond the newest one are deleted,
that one is gzipped (through ``.gz.tmp``, renamed, then the plain file deleted), and the live
file is renamed to ``0.log.<YYYYmmdd-HHMMSS>``; the runtime then writes a new ``0.log``.
"""

from __future__ import annotations

import gzip
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

MAX_FILES = 3


class KubeletContainerLog:
    """One container's live log under ``root``, with the lines written to it."""

    def __init__(self, root: Path, namespace: str, pod: str, container: str = "app") -> None:
        uid = str(uuid.uuid4())
        self.directory = root / "pods" / f"{namespace}_{pod}_{uid}" / container
        self.directory.mkdir(parents=True)
        self.live = self.directory / "0.log"
        self.live.touch()
        self.link = (
            root / "containers" / f"{pod}_{namespace}_{container}-{uuid.uuid4().hex * 2}.log"
        )
        self.link.parent.mkdir(parents=True, exist_ok=True)
        self.pod = pod
        self.expected: list[str] = []
        self._clock = datetime(2026, 1, 1, tzinfo=UTC)

    def expose(self) -> None:
        """The ``/var/log/containers`` link, made once the container runs."""
        self.link.symlink_to(self.live)

    def write(self, count: int) -> None:
        with open(self.live, "a") as out:
            for _ in range(count):
                message = f"{self.pod} seq={len(self.expected):07d} {'x' * 80}"
                stamp = (self._clock + timedelta(microseconds=len(self.expected))).isoformat()
                out.write(f"{stamp.replace('+00:00', 'Z')} stdout F {message}\n")
                self.expected.append(message)

    def rotate(self) -> None:
        rotated = sorted(self.directory.glob("0.log.*"))
        for old in rotated[: max(0, len(rotated) - (MAX_FILES - 2))]:
            old.unlink()
        for plain in rotated[len(rotated) - (MAX_FILES - 2) :]:
            if plain.name.endswith(".gz"):
                continue
            tmp = plain.with_name(plain.name + ".gz.tmp")
            with open(plain, "rb") as source, gzip.open(tmp, "wb") as target:
                shutil.copyfileobj(source, target)
            tmp.rename(plain.with_name(plain.name + ".gz"))
            plain.unlink()
        self._clock += timedelta(seconds=10)
        self.live.rename(self.directory / f"0.log.{self._clock:%Y%m%d-%H%M%S}")
        self.live.touch()

    def files(self) -> list[str]:
        return sorted(p.name for p in self.directory.iterdir())
