"""The dev node's generated artefacts: the sandbox image containerd imports and the configs.

The cluster itself runs only under ``make e2e``; these check, without root, what it is built
from: an OCI layout whose digests match its blobs and whose one file is a static executable, a
containerd config that keeps to the node's own directories, and a CNI bridge with no way off the
machine.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from devtools.home import DevPaths
from devtools.node import containerd, pause
from devtools.node.layout import NodePaths


def has_interpreter(elf: bytes) -> bool:
    """A ``PT_INTERP`` program header: the binary needs a dynamic loader (64-bit ELF)."""
    offset = int.from_bytes(elf[0x20:0x28], "little")
    size, count = int.from_bytes(elf[0x36:0x38], "little"), int.from_bytes(elf[0x38:0x3A], "little")
    types = (
        int.from_bytes(elf[offset + i * size : offset + i * size + 4], "little")
        for i in range(count)
    )
    return 3 in types


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed to build the pause binary")
def test_the_sandbox_image_is_a_valid_oci_layout_of_one_static_binary(tmp_path: Path) -> None:
    tar_path, name = pause.build(DevPaths(tmp_path))
    assert name.startswith("localhost/logwax-pause:")
    with tarfile.open(tar_path) as outer:
        files = {m.name: outer.extractfile(m).read() for m in outer if m.isfile()}  # type: ignore[union-attr]
    blobs = {n.split("/")[-1]: data for n, data in files.items() if n.startswith("blobs/")}
    for digest, data in blobs.items():
        assert hashlib.sha256(data).hexdigest() == digest
    index = json.loads(files["index.json"])
    [entry] = index["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == name
    manifest = json.loads(blobs[entry["digest"].split(":")[1]])
    [layer] = manifest["layers"]
    with tarfile.open(fileobj=io.BytesIO(blobs[layer["digest"].split(":")[1]])) as inner:
        [member] = inner.getmembers()
        binary = inner.extractfile(member).read()  # type: ignore[union-attr]
    assert member.name == "pause" and member.mode == 0o755
    assert binary[:4] == b"\x7fELF" and not has_interpreter(binary)  # static
    assert pause.build(DevPaths(tmp_path)) == (tar_path, name)  # cached by the source's hash


def test_containerd_keeps_to_the_node_directories_and_the_bridge_routes_nowhere(
    tmp_path: Path,
) -> None:
    node = NodePaths(root=tmp_path / "node", cache=tmp_path / "cache")
    config = containerd._config(node, "localhost/logwax-pause:x")
    paths = [
        line.split("=", 1)[1].strip().strip('"')
        for line in config.splitlines()
        if line.strip().startswith(("root", "state", "address", "path", "conf_dir"))
    ]
    assert paths and all(p.startswith(str(tmp_path)) for p in paths)
    assert 'sandbox_image = "localhost/logwax-pause:x"' in config
    assert "restrict_oom_score_adj = true" in config and "SystemdCgroup = false" in config
    [bridge] = containerd._cni(node)["plugins"]  # type: ignore[misc]
    assert bridge["isGateway"] is False and bridge["ipMasq"] is False
    assert "routes" not in bridge["ipam"]
