"""``logwax check`` for a files source: which files match, and can they be read."""

from __future__ import annotations

import glob

from logwax.connectors.files.config import FilesSourceConfig
from logwax.connectors.k8s_metadata import probe as probe_kubernetes


def probe(config: FilesSourceConfig) -> str:
    matched = sorted({p for pattern in config.include for p in glob.glob(pattern, recursive=True)})
    unreadable = []
    for path in matched:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            unreadable.append(f"{path} ({exc.strerror})")
    if unreadable:
        raise RuntimeError(f"cannot read {', '.join(unreadable[:5])}")
    found = f"{len(matched)} files match {config.include}"
    if config.kubernetes_metadata is not None:
        found += "; " + probe_kubernetes(config.kubernetes_metadata)
    return found
