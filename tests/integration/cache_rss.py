"""Run as a child process: the RSS the metadata cache adds once it holds a node's pods.

``python -m tests.integration.cache_rss KUBECONFIG NODE COUNT`` prints one JSON line. A process
of its own, so the figure is the cache's and not the test runner's.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

from logwax.connectors.k8s_metadata import KubernetesMetadataConfig
from logwax.connectors.k8s_metadata.cache import MetadataCache


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def main(kubeconfig: str, node: str, count: int) -> dict[str, float]:
    cache = MetadataCache(KubernetesMetadataConfig(kubeconfig=Path(kubeconfig), node_name=node))
    gc.collect()
    before = _status_mb("VmRSS")
    began = time.monotonic()
    cache.start()
    deadline = began + 300
    while (not cache.synced() or len(cache.pods) < count) and time.monotonic() < deadline:
        time.sleep(0.1)
    synced_s = time.monotonic() - began
    gc.collect()
    after = _status_mb("VmRSS")
    cache.stop()
    return {
        "pods": len(cache.pods),
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "cache_mb": round(after - before, 1),
        "peak_mb": round(_status_mb("VmHWM"), 1),
        "synced_s": round(synced_s, 2),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
