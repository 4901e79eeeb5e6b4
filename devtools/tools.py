"""Command-line tools the manifest tests use, built once from the Go module proxy."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from devtools.errors import DevServerError
from devtools.home import DevPaths

KUSTOMIZE = "sigs.k8s.io/kustomize/kustomize/v5@v5.7.1"


def go_install(module: str, target: Path) -> None:
    """``go install module@version`` with the binary put into ``target``: how the dev tools
    fetch a Go program (through the Go module proxy), so each failure reads the same."""
    go = shutil.which("go")
    if go is None:
        raise DevServerError(f"Go is needed to install {module}")
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [go, "install", module],
        env={**os.environ, "GOBIN": str(target)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise DevServerError(f"go install {module} failed:\n{result.stderr[-2000:]}")


def kustomize(dev: DevPaths) -> Path:
    """The real kustomize (what ``kubectl apply -k`` embeds), installed into the cache."""
    target = dev.cache / "tools"
    binary = target / "kustomize"
    if not binary.exists():
        go_install(KUSTOMIZE, target)
    return binary
