"""The images the engine runs, all built here: nothing can be pulled from a registry.

``logwax-base`` is Debian bookworm from ``debootstrap --variant=minbase`` plus Python 3.11,
brought in with ``docker import``; Kafka and Elasticsearch are built on it from the Dockerfiles
under ``devtools/dockerfiles/`` with a context assembled from the jars and zips the dev servers
already fetch from Maven Central; the product image is the repository's ``Dockerfile`` on it, its
Python dependencies installed from a wheelhouse (no index inside the build). Each image carries a
label with the hash of its inputs and is rebuilt only when that hash changes.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from devtools import elasticsearch, engine, kafka
from devtools.errors import DevServerError
from devtools.home import DevPaths, paths

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = Path(__file__).resolve().parent / "dockerfiles"
LABEL = "dev.logwax.inputs"
SUITE = "bookworm"
BASE = "logwax-base:bookworm"
KAFKA = f"logwax-kafka:{kafka.KAFKA_VERSION}"
ELASTICSEARCH = f"logwax-elasticsearch:{elasticsearch.ES_VERSION}"
PRODUCT = "logwax:dev"
# python3.11-venv gives ``python3.11 -m venv`` (the product build stage uses it); debootstrap does
# not resolve its dependency on the virtual python3.11-distutils, so its provider is named.
BASE_PACKAGES = ["python3.11", "python3.11-venv", "python3-distutils"]
Log = Callable[[str], None]


def docker(host: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The engine's own CLI against ``host`` (the legacy builder: the 20.10 engine has no
    BuildKit front end to reach, and it needs none)."""
    env = {**os.environ, engine.HOST_ENV: host, "DOCKER_BUILDKIT": "0"}
    return subprocess.run(
        [engine.client(), *args], env=env, text=True, capture_output=True, check=False
    )


def _checked(host: str, *args: str) -> str:
    result = docker(host, *args)
    if result.returncode != 0:
        raise DevServerError(f"docker {args[0]} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout


def label(host: str, image: str) -> str | None:
    """The inputs hash an image was built from, None when there is no such image."""
    template = f'{{{{index .Config.Labels "{LABEL}"}}}}'
    result = docker(host, "image", "inspect", "-f", template, image)
    return result.stdout.strip() if result.returncode == 0 else None


def image_id(host: str, image: str) -> str:
    return _checked(host, "image", "inspect", "-f", "{{.Id}}", image).strip()


def size_mb(host: str, image: str) -> float:
    return int(_checked(host, "image", "inspect", "-f", "{{.Size}}", image)) / 1e6


def digest_tree(*parts: Path | str) -> str:
    """A hash of strings and of files' relative paths and contents (big files: path and size,
    since the jars and zips are versioned by name)."""
    sha = hashlib.sha256()
    for part in parts:
        if isinstance(part, str):
            sha.update(part.encode())
            continue
        files = [part] if part.is_file() else sorted(p for p in part.rglob("*") if p.is_file())
        for path in files:
            sha.update(str(path.relative_to(part.parent)).encode())
            size = path.stat().st_size
            sha.update(str(size).encode())
            if size < 1_000_000:
                sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def debian_mirror() -> str:
    """The Debian mirror apt is configured with here (deb822 ``URIs:`` or one-line ``deb``)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        try:
            text = source.read_text()
        except (FileNotFoundError, IsADirectoryError):
            continue
        for match in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.M):
            uri = match.group(1).rstrip("/")
            if uri.endswith("/debian"):
                return uri
    return "http://deb.debian.org/debian"


def _ensure_debootstrap(log: Log) -> str:
    found = shutil.which("debootstrap") or shutil.which("/usr/sbin/debootstrap")
    if found:
        return found
    if os.geteuid() != 0:
        raise DevServerError("debootstrap is missing: run 'sudo apt-get install -y debootstrap'")
    log("installing debootstrap from Debian ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "debootstrap"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return shutil.which("debootstrap") or "/usr/sbin/debootstrap"


def _unmount_below(rootfs: Path) -> None:
    """debootstrap mounts /proc (and may leave it on failure): never tar or delete through it."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{rootfs}/")), reverse=True):
        subprocess.run(["umount", "-l", mount], check=False)


def build_base(host: str, dev: DevPaths, log: Log) -> str:
    mirror = debian_mirror()
    # The recipe is this function itself: a change to it rebuilds the base, and all above it.
    recipe = inspect.getsource(build_base) + inspect.getsource(_unmount_below)
    inputs = digest_tree(SUITE, "minbase", *BASE_PACKAGES, recipe, DOCKERFILES / "base")
    if label(host, BASE) == inputs:
        return BASE
    debootstrap = _ensure_debootstrap(log)
    rootfs = dev.cache / "images" / "base-rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    rootfs.mkdir(parents=True)
    # dpkg's excludes go in before any package is unpacked, so no docs ever land in the image.
    excludes = rootfs / "etc" / "dpkg" / "dpkg.cfg.d"
    excludes.mkdir(parents=True)
    shutil.copy(DOCKERFILES / "base" / "excludes", excludes / "logwax-excludes")
    log(f"{BASE}: debootstrap {SUITE} minbase from {mirror} ...")
    result = subprocess.run(
        [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            SUITE,
            str(rootfs),
            mirror,
        ],
        capture_output=True,
        text=True,
    )
    _unmount_below(rootfs)
    if result.returncode != 0:
        raise DevServerError(f"debootstrap failed:\n{(result.stdout + result.stderr)[-3000:]}")
    # debootstrap unpacks its first packages without dpkg, past the excludes: drop those too.
    for junk in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"):
        for path in (rootfs / junk).glob("*"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    # update-alternatives (the JRE's postinst) needs the directory for its man page links.
    (rootfs / "usr/share/man/man1").mkdir(parents=True, exist_ok=True)
    for junk in ("var/lib/apt/lists", "var/cache/apt", "var/log", "tmp"):
        shutil.rmtree(rootfs / junk, ignore_errors=True)
        (rootfs / junk).mkdir(parents=True)
    (rootfs / "tmp").chmod(0o1777)
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
    )
    imported = subprocess.run(
        [
            engine.client(),
            "import",
            "--change",
            f"LABEL {LABEL}={inputs}",
            "--change",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8",
            "--change",
            'CMD ["python3.11"]',
            "-",
            BASE,
        ],
        stdin=tar.stdout,
        env={**os.environ, engine.HOST_ENV: host},
        capture_output=True,
        text=True,
    )
    if tar.stdout is not None:
        tar.stdout.close()
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    if imported.returncode != 0 or tar.returncode != 0:
        raise DevServerError(f"docker import failed:\n{imported.stderr[-3000:]}")
    return BASE


def _link_tree(source: Path, target: Path) -> None:
    """Hard links where the cache and the context share a file system (no copy of ~300 MB)."""

    def link(src: str, dst: str) -> object:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return dst

    shutil.copytree(source, target, copy_function=link, symlinks=True)


def _build(
    host: str,
    tag: str,
    context: Path,
    inputs: str,
    log: Log,
    build_args: dict[str, str],
) -> None:
    args = ["build", "--force-rm", "--network", "host", "--label", f"{LABEL}={inputs}", "-t", tag]
    for key, value in build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    began = time.monotonic()
    log(f"{tag}: building ...")
    _checked(host, *args, str(context))
    log(f"{tag}: built in {time.monotonic() - began:.0f}s, {size_mb(host, tag):.0f} MB")


def _dockerfile_image(
    host: str, dev: DevPaths, tag: str, name: str, payload: dict[str, Path], log: Log
) -> str:
    """Build ``devtools/dockerfiles/<name>`` with ``payload`` (context name → cached dir)."""
    base_id = image_id(host, BASE)
    inputs = digest_tree(base_id, DOCKERFILES / name, *payload.values())
    if label(host, tag) == inputs:
        return tag
    context = dev.cache / "images" / f"{name}-context"
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(DOCKERFILES / name, context)
    for target, source in payload.items():
        _link_tree(source, context / target)
    try:
        _build(host, tag, context, inputs, log, {"BASE_IMAGE": BASE})
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return tag


# What the compiled core's wheel is built from (not native/target, cargo's build output).
NATIVE_SOURCES = [
    ROOT / "native" / name for name in ("Cargo.toml", "Cargo.lock", "pyproject.toml", "src")
]


def wheelhouse(dev: DevPaths, log: Log) -> Path:
    """Wheels of logwax's dependencies (and its build backend), fetched once per pyproject, and
    the compiled core's wheel (built here: the image build has no Rust and no crates)."""
    with_core = os.environ.get("LOGWAX_NATIVE", "1") != "0"
    key = digest_tree(ROOT / "pyproject.toml", *NATIVE_SOURCES, f"compiled core: {with_core}")
    target = dev.cache / "wheels" / key
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    log("wheelhouse: pip wheel of logwax's dependencies ...")
    result = subprocess.run(
        [
            shutil.which("python3.11") or "python3.11",
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--wheel-dir",
            str(target),
            str(ROOT),
            "setuptools>=77",
            "wheel",
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"},
    )
    if result.returncode != 0:
        raise DevServerError(f"pip wheel failed:\n{result.stderr[-3000:]}")
    for built in target.glob("logwax-*.whl"):
        built.unlink()  # the image builds logwax itself from its source
    if with_core:
        log("wheelhouse: the compiled core's wheel (cargo) ...")
        native = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--wheel-dir",
                str(target),
                str(ROOT / "native"),
            ],
            capture_output=True,
            text=True,
        )
        if native.returncode != 0:
            raise DevServerError(f"building the compiled core failed:\n{native.stderr[-3000:]}")
    (target / ".complete").touch()
    return target


def build_product(host: str, dev: DevPaths, log: Log) -> str:
    """The repository's Dockerfile on ``logwax-base``, offline from the wheelhouse."""
    wheels = wheelhouse(dev, log)
    sources = [ROOT / "Dockerfile", ROOT / "pyproject.toml", ROOT / "README.md", ROOT / "logwax"]
    inputs = digest_tree(image_id(host, BASE), *sources, wheels)
    if label(host, PRODUCT) == inputs:
        return PRODUCT
    context = dev.cache / "images" / "product-context"
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    for source in sources[:-1]:
        shutil.copy(source, context / source.name)
    shutil.copytree(
        ROOT / "logwax", context / "logwax", ignore=shutil.ignore_patterns("__pycache__")
    )
    _link_tree(wheels, context / "wheels")
    try:
        _build(
            host,
            PRODUCT,
            context,
            inputs,
            log,
            {"BASE_IMAGE": BASE, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/src/wheels"},
        )
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return PRODUCT


def ensure_brokers(host: str, log: Log = print) -> tuple[str, str]:
    """The Kafka and Elasticsearch images, built when missing or out of date."""
    dev = paths()
    build_base(host, dev, log)
    kafka_tag = _dockerfile_image(host, dev, KAFKA, "kafka", {"libs": kafka.fetch(dev)}, log)
    es_tag = _dockerfile_image(
        host,
        dev,
        ELASTICSEARCH,
        "elasticsearch",
        {"elasticsearch": elasticsearch.fetch(dev)},
        log,
    )
    return kafka_tag, es_tag


def ensure_all(host: str, log: Log = print) -> None:
    ensure_brokers(host, log)
    build_product(host, paths(), log)
    for tag in (BASE, KAFKA, ELASTICSEARCH, PRODUCT):
        log(f"{tag}: {size_mb(host, tag):.0f} MB")
