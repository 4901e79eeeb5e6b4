"""logwax's compiled hot path (the ``logwax-native`` package, built from ``native/``), if installed.

A profile of file → Kafka put half of each line's time in two steps that Python could not make
cheap enough: cutting a file's bytes into records, and shaping records for Kafka (their JSON,
headers and key). ``native/`` does both for the common case and answers "not mine" for anything
else (invalid UTF-8, a CR, a float in the fields, a record over the topic's limit, ...), which
the Python code then handles as it always has. Without the package, or with ``LOGWAX_NATIVE=0``,
every record takes the Python path: the same bytes (``tests/unit/test_native_equal.py``), only
slower.
"""

from __future__ import annotations

import os
from types import ModuleType


def load() -> ModuleType | None:
    if os.environ.get("LOGWAX_NATIVE", "1") == "0":
        return None
    try:
        import logwax_native
    except ImportError:
        return None
    core: ModuleType = logwax_native
    return core


# Looked up at each use (``native.CORE``), so a test can run the Python path in one process.
CORE: ModuleType | None = load()


def describe() -> str:
    """For the start-up log line: which path the hot steps take."""
    if CORE is not None:
        return "compiled (logwax-native)"
    if os.environ.get("LOGWAX_NATIVE", "1") == "0":
        return "Python (LOGWAX_NATIVE=0)"
    return "Python (logwax-native not installed)"
