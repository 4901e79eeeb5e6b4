"""The log-writer pod: numbered lines on stdout, some longer than containerd's 16 KiB line
buffer, so the kubelet's CRI log file holds them as partial (``P``) records to reassemble."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.e2e.pods import nobody_security_context

LONG = 20 * 1024
SHORT = 40
PROGRESS = "/progress"  # a hostPath of the test's: how far the writer got

# Runs in logwax-base (Python 3.11). Paced, so the stream lasts long enough for the faults a
# test injects mid-way; flushed per batch so the kubelet sees the lines as they come. It starts
# at the count its progress file holds, and on SIGTERM finishes the batch, records the count
# and exits: a writer pod deleted and made again writes every number once, so what was sent is
# known exactly.
SCRIPT = """
import os, signal, sys, time
run, total, long_every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
batch, progress = max(1, int(sys.argv[4]) // 20), sys.argv[5]
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
try:
    with open(progress) as saved:
        number = int(saved.read() or 0)
except FileNotFoundError:
    number = 0
while number < total and not stop:
    end = min(total, number + batch)
    for n in range(number, end):
        pad = ("L" * LONG) if n % long_every == 0 else ("s" * SHORT)
        sys.stdout.write(f"{run} {n:07d} {pad}\\n")
    sys.stdout.flush()
    number = end
    with open(progress + ".tmp", "w") as out:
        out.write(str(number))
    os.replace(progress + ".tmp", progress)
    time.sleep(0.05)
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
    progress: str,
) -> dict[str, Any]:
    """``progress``: a host directory the writer (uid 65534) can write, mounted at /progress."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "log-writer"}},
        "spec": {
            "hostNetwork": True,
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
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
                        f"{PROGRESS}/count",
                    ],
                    "volumeMounts": [{"name": "progress", "mountPath": PROGRESS}],
                    "securityContext": nobody_security_context(),
                }
            ],
            "volumes": [{"name": "progress", "hostPath": {"path": progress, "type": "Directory"}}],
        },
    }


def manifest(**kwargs: Any) -> str:
    return json.dumps(pod(**kwargs))
