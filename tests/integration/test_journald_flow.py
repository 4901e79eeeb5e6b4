"""``logwax run`` on real journal files: SIGKILLed mid-stream, restarted, nothing lost."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml
from elasticsearch import Elasticsearch

from logwax.connectors.journald.entries import cursor_event_id
from tests.integration.brokers import Brokers
from tests.integration.flow_runs import (
    es_count,
    es_event_ids,
    kill_and_restart_until,
    stop_gracefully,
    wait_for,
)
from tests.integration.journal_files import append_entries, rotate


def journal_ids(directory: Path) -> list[str]:
    """What journalctl itself says the journal holds, as event ids."""
    out = subprocess.run(
        ["journalctl", f"--directory={directory}", "-o", "json", "--no-pager"],
        capture_output=True,
        check=True,
    ).stdout.splitlines()
    return [cursor_event_id(json.loads(line)["__CURSOR"]) for line in out]


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
