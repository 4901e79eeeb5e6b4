"""Line formats: raw text, JSON lines, Docker's json-file and the CRI log format.

A parser never drops a line: what it cannot parse is kept as raw text and tagged, so the user sees
the bad input in the sink instead of a gap. Container runtimes split long lines: Docker leaves the
trailing newline off every piece but the last, CRI marks pieces ``P`` and the last one ``F``; such
pieces come back with ``partial=True`` and are joined by the assembler.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, NamedTuple

from logwax.core import jsoncodec
from logwax.core.record import json_text, new_tuple

Format = Literal["raw", "json", "docker", "cri"]


class Entry(NamedTuple):
    """One parsed line; ``offset`` is where its raw line starts in the file."""

    offset: int
    text: str
    timestamp_ns: int | None
    fields: dict[str, Any]
    partial: bool
    stream: str
    tags: tuple[str, ...]


def parse_rfc3339_ns(value: str) -> int | None:
    """RFC 3339 with up to nanoseconds (what Docker and CRI write) → UTC nanoseconds."""
    try:
        head, dot, rest = value.partition(".")
        if not dot:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()) * 10**9
        digits = ""
        for char in rest:
            if not char.isdigit():
                break
            digits += char
        zone = rest[len(digits) :] or "Z"
        seconds = int(datetime.fromisoformat(head + zone.replace("Z", "+00:00")).timestamp())
        return seconds * 10**9 + int(digits[:9].ljust(9, "0"))
    except ValueError:
        return None


def parse_raw(offset: int, text: str) -> Entry:
    return new_tuple(Entry, (offset, text, None, {}, False, "", ()))


def parse_json(offset: int, text: str) -> Entry:
    """A JSON object per line; its ``message``/``msg`` becomes the message, the rest fields."""
    try:
        document = jsoncodec.loads(text)
    except ValueError:
        return Entry(offset, text, None, {}, False, "", ("json_parse_error",))
    if not isinstance(document, dict):
        return Entry(offset, text, None, {}, False, "", ("json_not_object",))
    message = document.pop("message", None)
    if message is None:
        message = document.pop("msg", text)
    text_of = message if isinstance(message, str) else json_text(message)
    return Entry(offset, text_of, None, {"json": document}, False, "", ())


def parse_docker(offset: int, text: str) -> Entry:
    """``{"log": "...\\n", "stream": "stdout", "time": "..."}``; no newline = a partial piece."""
    try:
        document = jsoncodec.loads(text)
        log, stream, time = document["log"], document.get("stream", ""), document.get("time", "")
    except (ValueError, KeyError, TypeError):
        return Entry(offset, text, None, {}, False, "", ("docker_parse_error",))
    if not (isinstance(log, str) and isinstance(stream, str) and isinstance(time, str)):
        return Entry(offset, text, None, {}, False, "", ("docker_parse_error",))
    partial = not log.endswith("\n")
    fields = {"stream": stream}
    return Entry(offset, log.rstrip("\n"), parse_rfc3339_ns(time), fields, partial, stream, ())


def parse_cri(offset: int, text: str) -> Entry:
    """``<RFC3339Nano> <stdout|stderr> <P|F> <message>``."""
    parts = text.split(" ", 3)
    if len(parts) < 3 or parts[2] not in ("P", "F") or parts[1] not in ("stdout", "stderr"):
        return Entry(offset, text, None, {}, False, "", ("cri_parse_error",))
    time, stream, tag = parts[0], parts[1], parts[2]
    message = parts[3] if len(parts) == 4 else ""
    fields = {"stream": stream}
    return Entry(offset, message, parse_rfc3339_ns(time), fields, tag == "P", stream, ())


PARSERS: dict[str, Callable[[int, str], Entry]] = {
    "raw": parse_raw,
    "json": parse_json,
    "docker": parse_docker,
    "cri": parse_cri,
}
