"""``logwax check`` for a journald source: can journalctl read the journal we were given."""

from __future__ import annotations

import subprocess

from logwax.connectors.journald.config import JournaldSourceConfig


def probe(config: JournaldSourceConfig) -> str:
    args = [config.journalctl, "--lines=1", "--quiet", "--no-pager", "--output=cat"]
    if config.directory is not None:
        args.append(f"--directory={config.directory}")
    args.extend(f"--file={pattern}" for pattern in config.files)
    result = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"journalctl exited {result.returncode}")
    return f"journal readable{f' at {config.directory}' if config.directory else ''}"
