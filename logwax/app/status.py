"""``logwax status``: live records per second per source and sink, read from a job's /metrics."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

COUNTERS = {"logwax_source_records": "source", "logwax_sink_records": "sink"}


def scrape(url: str) -> dict[tuple[str, str], float]:
    """(kind, name) → counter value, for every source and sink the job reports."""
    with urllib.request.urlopen(f"{url.rstrip('/')}/metrics", timeout=5) as response:
        text = response.read().decode()
    values: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        kind = COUNTERS.get(family.name)
        if kind is None:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                values[(kind, sample.labels[kind])] = sample.value
    return values


def rates(
    before: dict[tuple[str, str], float], after: dict[tuple[str, str], float], seconds: float
) -> list[str]:
    lines = []
    for key in sorted(after):
        kind, name = key
        rate = (after[key] - before.get(key, 0.0)) / seconds
        lines.append(f"{kind:6s} {name:24s} {rate:12,.0f} records/s {after[key]:14,.0f} total")
    return lines


def watch(
    url: str, interval: float, rounds: int | None, out: Callable[[str], None] = print
) -> None:
    before = scrape(url)
    done = 0
    while rounds is None or done < rounds:
        time.sleep(interval)
        after = scrape(url)
        out(f"--- {time.strftime('%H:%M:%S')} {url}")
        for line in rates(before, after, interval) or ["(no sources or sinks reported yet)"]:
            out(line)
        before = after
        done += 1
