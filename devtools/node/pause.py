"""The pod sandbox ("pause") image, built here: no registry can be reached to pull one.

``pause.c`` is compiled static with gcc and packed as the only file of a scratch image in OCI
layout, which ``ctr images import`` takes as is; the Docker engine is not needed for it. The tar is
cached under a name that carries the hash of the source, so a change to ``pause.c`` rebuilds it.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

from devtools.errors import DevServerError
from devtools.home import DevPaths

SOURCE = Path(__file__).resolve().parent / "pause.c"


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _tar(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A reproducible tar (mtime 0, root-owned) of ``name → (content, mode)``."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, (content, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), mode, 0
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def image_name() -> str:
    source = SOURCE.read_bytes()
    return f"localhost/logwax-pause:{hashlib.sha256(source).hexdigest()[:12]}"


def build(dev: DevPaths) -> tuple[Path, str]:
    """The OCI image tar of the sandbox image and its name (built once per source hash)."""
    name = image_name()
    target = dev.cache / "node" / f"pause-{name.rsplit(':', 1)[1]}.tar"
    if target.exists():
        return target, name
    gcc = shutil.which("gcc")
    if gcc is None:
        raise DevServerError("gcc is needed for the sandbox image: apt-get install gcc libc6-dev")
    target.parent.mkdir(parents=True, exist_ok=True)
    binary = target.with_suffix(".bin")
    result = subprocess.run(
        [gcc, "-static", "-Os", "-s", "-o", str(binary), str(SOURCE)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise DevServerError(f"gcc failed on {SOURCE.name}:\n{result.stderr[-2000:]}")
    layer = _tar({"pause": (binary.read_bytes(), 0o755)})
    binary.unlink()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _digest(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": _digest(manifest),
                    "size": len(manifest),
                    "platform": {"architecture": "amd64", "os": "linux"},
                    "annotations": {"io.containerd.image.name": name},
                }
            ],
        }
    ).encode()
    blobs = {
        f"blobs/sha256/{_digest(blob).split(':')[1]}": (blob, 0o644)
        for blob in (layer, config, manifest)
    }
    layout = json.dumps({"imageLayoutVersion": "1.0.0"}).encode()
    files = {"oci-layout": (layout, 0o644), "index.json": (index, 0o644), **blobs}
    partial = target.with_suffix(".partial")
    partial.write_bytes(_tar(files))
    partial.rename(target)
    return target, name
