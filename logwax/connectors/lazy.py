"""Names a connector package exports but imports on first use.

Every flow reads every connector's settings (the registry), so a package that imported its
client library with its settings made each flow pay for all of them: the Elasticsearch client
(with aiohttp) and the Kubernetes client were 0.3 s of ``logwax run``'s 0.66 s of imports, for a
flow that may use neither. A package keeps its settings eager and gives the rest to this.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def exports(package: str, modules: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for ``package``: ``modules`` maps each name to the
    module (relative to ``package``) that defines it."""

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
