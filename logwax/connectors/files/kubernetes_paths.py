"""Pod, namespace and container read off the kubelet's log file layout.

``/var/log/containers/<pod>_<namespace>_<container>-<64-hex id>.log`` (symlinks the kubelet makes)
and ``/var/log/pods/<namespace>_<pod>_<pod uid>/<container>/<restart>.log`` (or, rotated,
``<restart>.log.<YYYYmmdd-HHMMSS>``). Names cannot contain
``_``, which is why the kubelet chose it as the separator.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

_CONTAINERS = re.compile(
    r"/containers/(?P<pod>[^_/]+)_(?P<namespace>[^_/]+)_(?P<container>[^/]+)-(?P<id>[0-9a-f]{64})\.log$"
)
# A rotated file keeps its pod: the kubelet renames ``0.log`` to ``0.log.<YYYYmmdd-HHMMSS>``, and a
# file followed there after a restart (``rotated.py``) still has lines to attribute.
_PODS = re.compile(
    r"/pods/(?P<namespace>[^_/]+)_(?P<pod>[^_/]+)_(?P<uid>[^/]+)/(?P<container>[^/]+)/"
    r"\d+\.log(?:\.\d{8}-\d{6})?$"
)


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
