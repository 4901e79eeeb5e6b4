"""Config value types written the way Vector and Filebeat users do: ``500ms``, ``10s``, ``5m``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, ByteSize, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(value: Any) -> Any:
    """``10s`` → 10 seconds; bare numbers are seconds; anything else is left to pydantic."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration; write e.g. 500ms, 10s, 5m or 1h")
        number, unit = match.groups()
        return timedelta(seconds=float(number) * _UNITS[unit or "s"])
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda d: f"{d.total_seconds():g}s", return_type=str),
]
Bytes = ByteSize
