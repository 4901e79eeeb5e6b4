"""Elasticsearch refusing the credential (401) or its privileges (403), or TLS refusing its
certificate: one line, then patience.

A refused credential is the operator's to fix, not the document's fault: the records are kept
(never dead-lettered), the job says once a minute at most which setting to fix and what the
server answered, /readyz carries the same line, and attempts back off to a few a minute with
jitter. Each attempt builds a new client, so a password or API key file updated in place (a
rotated Kubernetes Secret) is picked up without a restart.
"""

from __future__ import annotations

import logging
import random
import re
import time

log = logging.getLogger(__name__)

FIRST_WAIT_S = 5.0
MAX_WAIT_S = 60.0
REPEAT_SECONDS = 60.0
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def server_words(status: int, error: object) -> str:
    """What the server said, short: a proxy's HTML page becomes its title."""
    text = str(error or "")
    title = _TITLE.search(text)
    if title:
        text = title.group(1)
    text = " ".join(text.split())
    return f"HTTP {status}: {text[:200]}" if text else f"HTTP {status}"


def explain(hosts: list[str], status: int, error: object, index: str | None) -> str:
    if status == 401:
        fix = "elasticsearch.api_key / api_key_file or username / password / password_file"
    else:
        fix = "the credential's privileges"
        if index:
            fix += f" (create_doc on {index})"
    return f"elasticsearch={','.join(hosts)} fix={fix} reason={server_words(status, error)}"


def _causes(error: BaseException) -> str:
    """The error's text and its causes': elastic-transport's own says only "TLS error"."""
    parts: list[str] = []
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending and len(parts) < 10:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        parts.append(str(current))
        pending += [e for e in getattr(current, "errors", ()) if isinstance(e, BaseException)]
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return " | ".join(parts)


def explain_transport(hosts: list[str], error: Exception) -> str:
    """A connection failure as one line: TLS failures name ``ca_certs`` or ``hosts``."""
    text = " ".join(_causes(error).split())
    verify = re.search(r"certificate verify failed: ([^(]*)", text)
    if verify:
        detail = verify.group(1).strip()
        fix = "elasticsearch.hosts"  # must be a name the server certificate holds
        if "mismatch" not in detail.lower():
            fix = "elasticsearch.ca_certs"  # the CA that signed the server certificate
        return (
            f"elasticsearch={','.join(hosts)} fix={fix} reason=certificate verify failed: {detail}"
        )
    # Not the operator's to fix (an outage, a restart): no "fix=", it passes by itself.
    return f"elasticsearch={','.join(hosts)} unreachable ({type(error).__name__}): {text[:300]}"


def wait_seconds(attempt: int, rng: random.Random | None = None) -> float:
    """5 s, 10 s, 20 s, 40 s, then 60 s, each ±20 %: at most a few attempts a minute."""
    base = min(FIRST_WAIT_S * 2 ** max(attempt - 1, 0), MAX_WAIT_S)
    return float(base * (rng or random).uniform(0.8, 1.2))


class Announcer:
    """Says a line once, then again only after a minute (or when the line changes)."""

    def __init__(self) -> None:
        self._said: dict[str, float] = {}

    def say(self, line: str, held: int, wait: float | None = None) -> None:
        now = time.monotonic()
        if now - self._said.get(line, -REPEAT_SECONDS) < REPEAT_SECONDS:
            return
        self._said = {line: now}
        then = f", next attempt in {wait:.0f}s" if wait is not None else ", retrying"
        log.error("%s; %d records held%s", line, held, then)
