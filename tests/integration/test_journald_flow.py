"""``logwax run`` on real journal files: SIGKILLed mid-stream, restarted, nothing lost."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import Elasticsearch

from tests.integration.brokers import Brokers
from tests.integration.flow_runs import (
    es_count,
    es_event_ids,
    kill_and_restart_until,
    start,
    stop_gracefully,
    wait_for,
)
from tests.integration.journal_files import append_entries, boot_id, journal_ids, rotate
from tests.integration.kafka_helpers import read_all
from tests.integration.pipelines import kafka_sink, write_pipeline


def test_killed_journald_flow_resumes_from_its_cursor_without_loss(
    tmp_path: Path, servers: Brokers, es: Elasticsearch, new_index_prefix: Callable[[], str]
) -> None:
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 20_000)
    prefix = new_index_prefix()
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "journal_test",
                "sources": [{"type": "journald", "name": "node", "directory": str(journal.parent)}],
                "elasticsearch": {"hosts": [servers.elasticsearch_url], "index": f"{prefix}-%Y.%m"},
                "recovery": {"directory": str(tmp_path / "recovery"), "snapshot_interval": "1s"},
            }
        )
    )

    def more_while_down(kill: int) -> None:
        if kill == 0:
            append_entries(journal, 20_000, 5_000)
        else:
            rotate(journal, "0001")
            append_entries(journal, 25_000, 5_000)

    proc, at_kill = kill_and_restart_until(
        [3_000, 12_000], lambda: es_count(es, prefix), config, tmp_path, between=more_while_down
    )
    print(f"documents indexed when killed: {at_kill}")
    assert at_kill[0] < 20_000 and at_kill[1] < 25_000  # the kills fell mid-stream
    expected = journal_ids(journal.parent)
    assert len(expected) == 30_000
    wait_for(
        "every entry",
        lambda: es_count(es, prefix) >= len(expected),
        proc,
        tmp_path / "logwax.log",
        timeout=180,
    )
    stop_gracefully(proc)

    indexed = es_event_ids(es, prefix)
    assert set(indexed) == set(expected)
    assert max(indexed.values()) == 1


def kafka_entries(kafka_config: dict[str, Any], topic: str) -> tuple[dict[str, int], list[str]]:
    """Event id → copies a read_committed consumer sees; a problem for each stream out of order."""
    copies: dict[str, int] = defaultdict(int)
    last: dict[str, int] = {}
    disorder = []
    for message in read_all(kafka_config, topic):
        record = json.loads(message.value())
        copies[record["event"]["id"]] += 1
        number = int(record["message"].removeprefix("entry "))
        stream = message.key().decode()
        if number <= last.get(stream, -1):
            disorder.append(f"{stream}: {number} after {last[stream]}")
        last[stream] = number
    return copies, disorder


def test_every_boot_ships_once_across_a_reboot_with_a_kill_mid_catch_up(
    tmp_path: Path, servers: Brokers, kafka_config: dict[str, Any], new_topic: Callable[..., str]
) -> None:
    """Two boots at start; stopped; the boot's tail and a new boot written; SIGKILLed catching up.

    Exactly-once Kafka, so a duplicate is the source's, not an at-least-once replay.
    """
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 10_000, boot=boot_id(0))
    append_entries(journal, 10_000, 10_000, boot=boot_id(1))
    topic = new_topic(3)
    source = {
        "type": "journald",
        "name": "node",
        "directory": str(journal.parent),
        "rate_limit": 4_000,  # so that the kill falls mid catch-up
    }
    config = write_pipeline(
        tmp_path,
        "journal_boots",
        sources=[source],
        kafka=kafka_sink(servers, topic, exactly_once=True),
    )
    log = tmp_path / "logwax.log"

    def in_kafka() -> int:
        return sum(kafka_entries(kafka_config, topic)[0].values())

    proc = start(config, tmp_path)
    wait_for("both boots", lambda: in_kafka() >= 20_000, proc, log, timeout=120)
    stop_gracefully(proc, log)
    two_boots, disorder = kafka_entries(kafka_config, topic)
    print(
        f"two boots: written 20000 shipped {len(two_boots)}"
        f" duplicated {sum(two_boots.values()) - len(two_boots)}"
    )
    assert set(two_boots) == set(journal_ids(journal.parent)) and max(two_boots.values()) == 1
    assert disorder == []

    append_entries(journal, 20_000, 5_000, boot=boot_id(1))  # the shutdown logs
    rotate(journal, "0001")
    append_entries(journal, 25_000, 10_000, boot=boot_id(2))  # the new boot
    proc = start(config, tmp_path)
    wait_for("catching up", lambda: in_kafka() >= 23_000, proc, log, poll=0.05)
    proc.kill()
    proc.wait()
    at_kill = in_kafka()
    proc = start(config, tmp_path)
    wait_for("every entry", lambda: in_kafka() >= 35_000, proc, log, timeout=120)
    stop_gracefully(proc, log)

    shipped, disorder = kafka_entries(kafka_config, topic)
    expected = journal_ids(journal.parent)
    print(
        f"reboot: written {len(expected)} shipped {len(shipped)}"
        f" duplicated {sum(shipped.values()) - len(shipped)} (in kafka when killed: {at_kill})"
    )
    assert at_kill < 35_000  # the kill fell mid catch-up
    assert len(expected) == 35_000 and set(shipped) == set(expected)
    assert max(shipped.values()) == 1
    assert disorder == []
