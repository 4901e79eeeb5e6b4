"""Checks of the image that need no engine (the image itself runs in ``test_image_run.py`` and
``test_image_journal.py`` where one answers): hadolint lints the Dockerfiles, every path the
product one copies exists, and its install step (``pip install .`` into a fresh virtualenv, no
editable install, nothing else on the path) gives a working ``logwax``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_passes_hadolint_and_copies_only_what_exists() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    dockerfiles = [
        ROOT / "Dockerfile",
        *sorted((ROOT / "devtools" / "dockerfiles").glob("*/Dockerfile")),
    ]
    result = subprocess.run([hadolint, *map(str, dockerfiles)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    assert re.search(r"^USER 10001", text, re.MULTILINE), "the image must run as non-root"


def test_the_image_install_step_gives_a_working_logwax(tmp_path: Path) -> None:
    venv = tmp_path / "image-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    build = tmp_path / "src"  # what the Dockerfile's COPY lines put in the build stage
    build.mkdir()
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, build / part)
    for package in ("logwax", "connectors", "flows"):
        shutil.copytree(
            ROOT / package, build / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-cache-dir", "-q", str(build)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    shutil.rmtree(build)  # the image has no source tree either
    logwax = str(venv / "bin" / "logwax")
    assert (
        "run"
        in subprocess.run([logwax, "--help"], capture_output=True, text=True, check=True).stdout
    )
    validated = subprocess.run(
        [logwax, "validate", "-c", str(ROOT / "examples" / "index.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert validated.returncode == 0, validated.stderr
    imported = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import logwax.flows.collect, logwax.flows.index, logwax.flows.events, "
            "logwax.connectors.kafka.transactional",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert imported.returncode == 0, imported.stderr
