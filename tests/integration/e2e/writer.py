"""The log-writer pod: numbered lines on stdout, some longer than containerd's 16 KiB line
buffer, so the kubelet's CRI log file holds them as partial (``P``) records to reassemble."""

from __future__ import annotations

import json
from typing import Any

LONG = 20 * 1024
SHORT = 40
# After its first line the writer waits longer than the collector's scan interval (10 s): a CRI
# log file rotated before the collector first saw it cannot be found through the
# /var/log/containers link (which names only the live file), so its lines would be lost. That
# edge is real (1 MiB in the first seconds of a pod, rotated before the first scan) and is
# reported, not tested here: this test is about lines of a file the collector knows.
FIRST_PAUSE_S = 12.0

# Runs in logwax-base (Python 3.11). Paced, so the stream lasts long enough for the faults a
# test injects mid-way; flushed per batch so the kubelet sees the lines as they come.
SCRIPT = """
import sys, time
run, total, long_every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
batch, first_pause = max(1, int(sys.argv[4]) // 20), float(sys.argv[5])
for number in range(total):
    pad = ("L" * LONG) if number % long_every == 0 else ("s" * SHORT)
    sys.stdout.write(f"{run} {number:07d} {pad}\\n")
    if number == 0:
        sys.stdout.flush()
        time.sleep(first_pause)
    elif number % batch == batch - 1:
        sys.stdout.flush()
        time.sleep(0.05)
sys.stdout.flush()
""".replace("LONG", str(LONG)).replace("SHORT", str(SHORT))


def line(run: str, number: int, long_every: int) -> str:
    pad = "L" * LONG if number % long_every == 0 else "s" * SHORT
    return f"{run} {number:07d} {pad}"


def pod(
    name: str,
    namespace: str,
    run: str,
    total: int,
    long_every: int,
    per_second: int,
    first_pause: float = FIRST_PAUSE_S,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "log-writer"}},
        "spec": {
            "hostNetwork": True,
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "writer",
                    "image": "logwax-base:bookworm",
                    "imagePullPolicy": "Never",
                    "command": [
                        "python3.11",
                        "-c",
                        SCRIPT,
                        run,
                        str(total),
                        str(long_every),
                        str(per_second),
                        str(first_pause),
                    ],
                    "securityContext": {
                        "runAsUser": 65534,
                        "runAsNonRoot": True,
                        "readOnlyRootFilesystem": True,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def manifest(**kwargs: Any) -> str:
    return json.dumps(pod(**kwargs))
