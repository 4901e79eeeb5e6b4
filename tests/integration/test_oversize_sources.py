"""Oversized entries from journald (MESSAGE at 0.99x, 1x, 1.01x and 10x the limit: a topic
lowered to 64 KiB, and the default topic, where the producer's 1,000,000 bytes decide) through
exactly-once Kafka with both policies, another unit's entries shipping alongside, the
process SIGKILLed right after the commit of the first epoch and restarted: every journal entry
ends exactly once in the topic or in the dead letters."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from logwax.connectors.kafka.transactional import CRASH_AFTER_COMMIT_ENV
from tests.integration.brokers import Brokers
from tests.integration.flow_runs import start, stop_gracefully
from tests.integration.journal_files import BOOT_ID, JOURNAL_REMOTE, journal_ids
from tests.integration.kafka_helpers import read_all
from tests.integration.oversize_helpers import (
    LIMITS,
    assert_split_exactly_once,
    lower_limit,
    wait_split,
)
from tests.integration.pipelines import kafka_sink, write_pipeline

FACTORS = (0.99, 1.0, 1.01, 10.0)
OTHER = 5_000


def entry(i: int, unit: str, message: str) -> bytes:
    return (
        f"__REALTIME_TIMESTAMP={1_700_000_000_000_000 + i * 1000}\n__MONOTONIC_TIMESTAMP={i}\n"
        f"_BOOT_ID={BOOT_ID}\n_SYSTEMD_UNIT={unit}\nPRIORITY=6\nMESSAGE={message}\n\n"
    ).encode()


def write_journal(journal: Path, limit: int) -> None:
    """app.service: big entries between small ones; other.service: many small ones, interleaved."""
    journal.parent.mkdir(parents=True)
    export = bytearray()
    big = iter(FACTORS)
    for i in range(OTHER):
        export += entry(2 * i, "other.service", f"other {i}")
        if i % 1000 == 500:
            factor = next(big, None)
            text = "m" * int(limit * factor) if factor else f"app {i}"
            export += entry(2 * i + 1, "app.service", text)
    path = journal.parent / "in.export"
    path.write_bytes(bytes(export))
    subprocess.run([JOURNAL_REMOTE, "-o", str(journal), str(path)], check=True, capture_output=True)
    path.unlink()


@pytest.mark.parametrize("policy", ["truncate", "dead_letter"])
@pytest.mark.parametrize("lowered", [False, True], ids=["default_topic", "topic_64k"])
def test_journald_entries_over_the_limit_survive_a_sigkill_exactly_once(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
    policy: str,
    lowered: bool,
) -> None:
    limit = LIMITS[lowered]
    journal = tmp_path / "journal" / "system.journal"
    write_journal(journal, limit)
    expected = set(journal_ids(journal.parent))
    assert len(expected) == OTHER + 5
    topic, dead = new_topic(2), new_topic(1)
    if lowered:
        lower_limit(kafka_config, topic)
    config = write_pipeline(
        tmp_path,
        "journal_oversize",
        snapshot_interval="500ms",
        sources=[{"type": "journald", "name": "node", "directory": str(journal.parent)}],
        kafka=kafka_sink(
            servers, topic, exactly_once=True, dead_letter_topic=dead, oversize=policy
        ),
        batch={"max_records": 200, "max_latency": "200ms"},
    )
    log = tmp_path / "logwax.log"
    proc = start(config, tmp_path, env={CRASH_AFTER_COMMIT_ENV: "1"})
    assert proc.wait(timeout=120) == -9, log.read_text()[-3000:]
    proc = start(config, tmp_path)

    wait_split(proc, log, kafka_config, (topic, dead), len(expected))
    stop_gracefully(proc, log)

    shipped, letters = assert_split_exactly_once(kafka_config, (topic, dead), expected)
    documents = [json.loads(m.value()) for m in read_all(kafka_config, topic)]
    cut = [d for d in documents if "truncated" in d.get("tags", [])]
    whole = [d for d in documents if d["message"].startswith("mmm") and d not in cut]
    over = sum(1 for factor in FACTORS if factor >= 1.0)  # with its envelope, 1x is over
    if policy == "truncate":
        assert not letters and len(cut) == over and len(whole) == len(FACTORS) - over
        assert all(d["logwax"]["original_size"] > limit for d in cut)
    else:
        assert len(letters) == over and not cut and len(whole) == len(FACTORS) - over
    print(f"{policy}: {len(shipped)} in the topic, {len(letters)} dead letters")
