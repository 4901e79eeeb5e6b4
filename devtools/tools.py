"""Command-line tools the manifest tests use, built once from the Go module proxy."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from devtools.errors import DevServerError
from devtools.home import DevPaths

KUSTOMIZE = "sigs.k8s.io/kustomize/kustomize/v5@v5.7.1"


def kustomize(dev: DevPaths) -> Path:
    """The real kustomize (what ``kubectl apply -k`` embeds), installed into the cache."""
    target = dev.cache / "tools"
    binary = target / "kustomize"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None:
        raise DevServerError("Go is needed to install kustomize")
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [go, "install", KUSTOMIZE],
        env={**os.environ, "GOBIN": str(target)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise DevServerError(f"go install {KUSTOMIZE} failed:\n{result.stderr[-2000:]}")
    return binary
