"""The locally built images, handed from the project's Docker engine to the node's containerd.

No registry can be reached, so pods run with ``imagePullPolicy: Never`` on images imported with
``docker save | ctr images import``. What was imported is remembered by the engine's image id
(next to containerd's content store, which survives ``down``), so a second run imports only an
image that was rebuilt.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable

from devtools import engine
from devtools import images as engine_images
from devtools.errors import DevServerError
from devtools.node import containerd
from devtools.node.layout import NodePaths, node_paths

Log = Callable[[str], None]


def containerd_name(tag: str) -> str:
    """How containerd (and a pod's ``image:``) spells a short Docker tag."""
    if "/" not in tag.split(":")[0]:
        return f"docker.io/library/{tag}"
    return tag


def load(host: str, tags: list[str], node: NodePaths | None = None, log: Log = print) -> None:
    node = node or node_paths()
    stamp = node.cache / "imported.json"
    try:
        imported: dict[str, str] = json.loads(stamp.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        imported = {}
    present = containerd.images(node)
    for tag in tags:
        wanted = engine_images.image_id(host, tag)
        if imported.get(tag) == wanted and containerd_name(tag) in present:
            continue
        log(f"node: importing {tag} into containerd ...")
        save = subprocess.Popen(
            [engine.client(), "save", tag],
            stdout=subprocess.PIPE,
            env={**os.environ, engine.HOST_ENV: host},
        )
        result = subprocess.run(
            [
                containerd.binaries()[1],
                "--address",
                str(node.containerd_socket),
                "-n",
                containerd.NAMESPACE,
                "images",
                "import",
                "-",
            ],
            stdin=save.stdout,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if save.stdout is not None:
            save.stdout.close()
        save.wait(timeout=60)
        if result.returncode != 0 or save.returncode != 0:
            raise DevServerError(f"importing {tag} failed: {result.stderr.strip()[-2000:]}")
        imported[tag] = wanted
        stamp.write_text(json.dumps(imported, indent=2))
