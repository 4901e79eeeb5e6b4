"""What building one record costs, for each shape we considered for ``logwax.core.record.Record``.

Reproduce with: ``.venv/bin/python bench/record_model.py``. Prints ns per construction (median of
5 repeats of 200,000) and the pickled size, on this machine's Python.
"""

from __future__ import annotations

import pickle
import platform
import statistics
import time
import timeit
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from logwax.core.record import Record


@dataclass(frozen=True, slots=True)
class FrozenSlots:
    source: str
    stream: str
    event_id: str
    timestamp_ns: int
    message: str
    fields: dict[str, Any]


@dataclass(slots=True)
class MutableSlots:
    source: str
    stream: str
    event_id: str
    timestamp_ns: int
    message: str
    fields: dict[str, Any]


class PlainTuple(NamedTuple):
    source: str
    stream: str
    event_id: str
    timestamp_ns: int
    message: str
    fields: dict[str, Any]


class PydanticRecord(BaseModel):
    model_config = ConfigDict(frozen=True)
    source: str
    stream: str
    event_id: str
    timestamp_ns: int
    message: str
    fields: dict[str, Any]


def main() -> None:
    args = ("app", "3f2a9c", "3f2a9c:1024", time.time_ns(), "x" * 200, {})
    candidates = {
        "logwax.core.record.Record (NamedTuple)": lambda: Record(*args),
        "NamedTuple": lambda: PlainTuple(*args),
        "dataclass(frozen, slots)": lambda: FrozenSlots(*args),
        "dataclass(slots)": lambda: MutableSlots(*args),
        "pydantic BaseModel (validating)": lambda: PydanticRecord(
            source=args[0],
            stream=args[1],
            event_id=args[2],
            timestamp_ns=args[3],
            message=args[4],
            fields=args[5],
        ),
    }
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.processor()}")
    number = 200_000
    for name, build in candidates.items():
        runs = timeit.repeat(build, number=number, repeat=5)
        ns = statistics.median(runs) / number * 1e9
        size = len(pickle.dumps(build()))
        print(f"{name:38s} {ns:8.0f} ns/record  pickled {size} bytes")


if __name__ == "__main__":
    main()
