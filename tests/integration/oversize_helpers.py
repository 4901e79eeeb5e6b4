"""Records of an exact wire size, topics with a lowered limit, and reading dead letters back."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from logwax.connectors.kafka.limits import PRODUCER_DEFAULT, record_size
from logwax.core.record import Record
from tests.integration.flow_runs import kafka_event_ids, wait_for
from tests.integration.kafka_helpers import read_all

LOWERED = 64 * 1024
# The limit a test meets, by whether it lowered the topic's max.message.bytes.
LIMITS = {False: PRODUCER_DEFAULT, True: LOWERED}


def sized(event_id: str, target: int, stream: str = "big") -> Record:
    """A record whose size on the wire (as the sink measures it) is exactly ``target``."""
    empty = Record("test", stream, event_id, 1_700_000_000_000_000_000, "", {})
    headers: list[tuple[str, str | bytes | None]] = [
        ("event_id", event_id.encode()),
        ("source", b"test"),
    ]
    base = record_size(empty.to_json_bytes(), stream.encode(), headers)
    return empty._replace(message="x" * (target - base))


def lower_limit(kafka_config: dict[str, Any], topic: str, limit: int = LOWERED) -> None:
    """Set the topic's max.message.bytes and wait until the broker reports it."""
    admin = AdminClient(kafka_config)
    entry = ConfigEntry(
        "max.message.bytes", str(limit), incremental_operation=AlterConfigOpType.SET
    )
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
        for future in described.values():
            if future.result(timeout=30)["max.message.bytes"].value == str(limit):
                return
        time.sleep(0.2)
    raise AssertionError(f"{topic}: max.message.bytes never became {limit}")


def documents(kafka_config: dict[str, Any], topic: str) -> list[dict[str, Any]]:
    """Every committed message of ``topic`` as JSON, with its size on the wire."""
    found = []
    for message in read_all(kafka_config, topic):
        document = json.loads(message.value())
        document["_wire"] = len(message.value())
        found.append(document)
    return found


def by_event_id(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for doc in docs:
        event_id = doc["event"]["id"]
        assert event_id not in out, f"{event_id} twice"
        out[event_id] = doc
    return out


def wait_split(
    proc: subprocess.Popen[bytes],
    log: Path,
    kafka_config: dict[str, Any],
    topics: tuple[str, str],
    total: int,
) -> None:
    """Wait until the topic and its dead-letter topic together hold ``total`` records, then a
    moment more: a duplicate would come after the last expected record."""

    def complete() -> bool:
        return sum(len(kafka_event_ids(kafka_config, t)) for t in topics) >= total

    wait_for(f"{total} records in {topics}", complete, proc, log, timeout=180, poll=1)
    time.sleep(2)


def where(kafka_config: dict[str, Any], topics: tuple[str, str], ids: list[str]) -> list[str]:
    """Topic, partition and offset of each copy of ``ids``: what a duplicate's cause shows in."""
    found = []
    for topic in topics:
        for message in read_all(kafka_config, topic):
            event_id = dict(message.headers() or []).get("event_id", b"").decode()
            if event_id in ids:
                found.append(f"{event_id}@{topic}[{message.partition()}]:{message.offset()}")
    return found


def assert_split_exactly_once(
    kafka_config: dict[str, Any], topics: tuple[str, str], expected: set[str]
) -> tuple[Counter[str], Counter[str]]:
    """Every expected id once in the topic or in the dead letters, never both, never neither."""
    shipped, letters = (kafka_event_ids(kafka_config, t) for t in topics)
    found = set(shipped) | set(letters)
    assert found == expected, (
        f"missing {sorted(expected - found)[:5]}, extra {sorted(found - expected)[:5]}"
    )
    both = set(shipped) & set(letters)
    assert not both, f"in both the topic and the dead letters: {sorted(both)[:5]}"
    twice = [i for i, n in (shipped + letters).items() if n > 1]
    assert not twice, f"more than once: {twice[:5]}; where: {where(kafka_config, topics, twice)}"
    return shipped, letters
