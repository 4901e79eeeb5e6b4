"""Pod, namespace and container read off the kubelet's log file layout.

``/var/log/containers/<pod>_<namespace>_<container>-<64-hex id>.log`` (symlinks the kubelet makes)
and ``/var/log/pods/<namespace>_<pod>_<pod uid>/<container>/<restart>.log`` (or, rotated,
``<restart>.log.<YYYYmmdd-HHMMSS>``, and at the next rotation that file gzipped with ``.gz``).
Names cannot contain ``_``, which is why the kubelet chose it as the separator.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path, PurePath
from typing import Any

_CONTAINERS = re.compile(
    r"/containers/(?P<pod>[^_/]+)_(?P<namespace>[^_/]+)_(?P<container>[^/]+)-(?P<id>[0-9a-f]{64})\.log$"
)
# A rotated file keeps its pod: the kubelet renames ``0.log`` to ``0.log.<YYYYmmdd-HHMMSS>`` (later
# gzipped), and a file followed there after a restart (``rotated.py``) still has lines to attribute.
_PODS = re.compile(
    r"/pods/(?P<namespace>[^_/]+)_(?P<pod>[^_/]+)_(?P<uid>[^/]+)/(?P<container>[^/]+)/"
    r"\d+\.log(?:\.\d{8}-\d{6}(?:\.gz)?)?$"
)
_LIVE = re.compile(r"/pods/[^_/]+_[^_/]+_[^/]+/[^/]+/\d+\.log$")
_ROTATED_SUFFIX = re.compile(r"^\.\d{8}-\d{6}(?:\.gz)?$")


def kubernetes_fields(path: PurePath) -> dict[str, Any] | None:
    text = str(path)
    match = _CONTAINERS.search(text)
    if match:
        return {
            "kubernetes": {
                "pod_name": match["pod"],
                "namespace": match["namespace"],
                "container_name": match["container"],
                "container_id": match["id"],
            }
        }
    match = _PODS.search(text)
    if match:
        return {
            "kubernetes": {
                "pod_name": match["pod"],
                "namespace": match["namespace"],
                "pod_uid": match["uid"],
                "container_name": match["container"],
            }
        }
    return None


def recent_rotations(live: Path, within_s: float) -> list[Path]:
    """The rotated files, plain or gzipped, of the kubelet log file ``live`` (or the
    ``/var/log/containers`` link to it), oldest first, modified in the last ``within_s`` seconds.

    A new live file means the kubelet rotated: the files it rotated since the collector last
    looked (all of them, for a container first seen after its first rotation) are not matched
    by the ``/var/log/containers`` globs, which name only the live file. Older files than
    ``within_s`` (the source's ``forget_after``) may be ones whose state was forgotten after
    they were read, and are left alone rather than shipped twice.
    """
    target = Path(os.path.realpath(live))
    if not _LIVE.search(str(target)):
        return []
    oldest = time.time() - within_s
    found = []
    try:
        for path in target.parent.iterdir():
            suffix = path.name[len(target.name) :]
            if not path.name.startswith(target.name) or not _ROTATED_SUFFIX.match(suffix):
                continue
            try:
                if path.stat().st_mtime >= oldest:
                    found.append(path)
            except OSError:
                continue
    except OSError:
        return []
    return sorted(found)


def container_log(path: Path) -> str | None:
    """The kubelet log file ``path`` is, was, or links to (``.../<container>/0.log``), for a live
    file, its ``/var/log/containers`` link, a rotated file or its archive; None otherwise."""
    target = os.path.realpath(path)
    match = _PODS.search(target)
    if match is None:
        return None
    rotated = re.search(r"\.\d{8}-\d{6}(?:\.gz)?$", target)
    return target[: rotated.start()] if rotated else target
