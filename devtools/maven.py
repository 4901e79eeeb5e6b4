"""Fetch server jars and zips from Maven Central with the user's own Maven.

Maven is the one tool every target machine has that reaches Maven Central with its configured
mirrors and proxies, so we drive it rather than downloading URLs ourselves. The dependency plugin is
pinned: a bare ``dependency:`` prefix would ask for plugin metadata and may pick another version.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from devtools.errors import DevServerError

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.logwax</groupId><artifactId>dev-servers</artifactId><version>0</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DevServerError("Maven ('mvn') is not on PATH; install Maven 3 to fetch the servers")
    return mvn


def _run(args: list[str], cwd: Path, log: Path) -> None:
    with open(log, "ab") as out:
        result = subprocess.run(
            [_mvn(), "-B", "-q", *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    if result.returncode != 0:
        raise DevServerError(f"Maven failed (exit {result.returncode}); see {log}")


def copy_dependencies(coordinates: list[str], target: Path, log: Path) -> Path:
    """Resolve ``group:artifact:version`` jars with their runtime deps into ``target`` once."""
    marker = target / ".complete"
    if marker.exists():
        return target
    work = target.with_name(target.name + ".resolve")
    work.mkdir(parents=True, exist_ok=True)
    deps = "\n".join(
        "    <dependency><groupId>{}</groupId><artifactId>{}</artifactId>"
        "<version>{}</version></dependency>".format(*c.split(":"))
        for c in coordinates
    )
    (work / "pom.xml").write_text(_POM.format(deps=deps))
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    _run(
        [
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ],
        cwd=work,
        log=log,
    )
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    marker.touch()
    shutil.rmtree(work, ignore_errors=True)
    return target


def copy_artifact(coordinate: str, target_dir: Path, log: Path) -> Path:
    """Fetch one artifact (``group:artifact:version:type``) into ``target_dir``."""
    _group, artifact, version, kind = coordinate.split(":")
    wanted = target_dir / f"{artifact}-{version}.{kind}"
    if wanted.exists():
        return wanted
    target_dir.mkdir(parents=True, exist_ok=True)
    _run(
        [
            f"{DEPENDENCY_PLUGIN}:copy",
            f"-Dartifact={coordinate}",
            f"-DoutputDirectory={target_dir}",
        ],
        cwd=target_dir,
        log=log,
    )
    if not wanted.exists():
        raise DevServerError(f"Maven reported success but {wanted} is missing; see {log}")
    return wanted
