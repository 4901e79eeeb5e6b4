"""``logwax run`` tailing a file that is rotated (rename+create, then copytruncate) between and
during SIGKILLs: every line reaches Elasticsearch exactly once."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import yaml
from elasticsearch import Elasticsearch

from tests.integration.brokers import Brokers
from tests.integration.flow_runs import (
    es_count,
    es_messages,
    kill_after_a_snapshot,
    start,
    stop_gracefully,
    wait_for,
)


class Writer:
    """Appends numbered lines to one log path, like an application would."""

    def __init__(self, path: Path) -> None:
        self.path, self.written = path, 0
        self.expected: set[str] = set()

    def write(self, count: int) -> None:
        with open(self.path, "a") as out:
            for _ in range(count):
                line = f"seq={self.written} {'x' * 100}"
                out.write(line + "\n")
                self.expected.add(line)
                self.written += 1


def test_rotation_by_rename_and_copytruncate_across_sigkills(
    tmp_path: Path, servers: Brokers, es: Elasticsearch, new_index_prefix: Callable[[], str]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    writer = Writer(logs / "app.log")
    prefix = new_index_prefix()
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "rotation_test",
                "sources": [
                    {
                        "type": "files",
                        "name": "app",
                        "include": [f"{logs}/*.log"],
                        "scan_interval": "200ms",
                    }
                ],
                "elasticsearch": {"hosts": [servers.elasticsearch_url], "index": f"{prefix}-%Y"},
                "recovery": {"directory": str(tmp_path / "recovery"), "snapshot_interval": "1s"},
            }
        )
    )
    log = tmp_path / "logwax.log"
    indexed = lambda: es_count(es, prefix)  # noqa: E731

    # Killed after the first snapshot (1s): without one there is no position to resume from,
    # and a file renamed out of the globs before any snapshot cannot be known to be ours.
    writer.write(100_000)
    kill_after_a_snapshot(config, tmp_path, tmp_path / "recovery", indexed, 15_000)
    assert indexed() < 100_000

    writer.write(2_000)  # while down: more lines, then rename+create rotation
    (logs / "app.log").rename(logs / "app.log.1")
    writer.write(4_000)
    proc = start(config, tmp_path)
    wait_for("caught up", lambda: indexed() >= writer.written, proc, log)

    shutil.copy(logs / "app.log", logs / "app.log.2")  # copytruncate, as logrotate does it
    with open(logs / "app.log", "r+") as handle:
        handle.truncate(0)
    writer.write(6_000)
    wait_for("some new lines", lambda: indexed() >= 108_000, proc, log, poll=0.05)
    proc.kill()
    proc.wait()
    assert indexed() < writer.written

    proc = start(config, tmp_path)
    wait_for("every line", lambda: indexed() >= writer.written, proc, log)
    stop_gracefully(proc)

    found = es_messages(es, prefix)
    print(
        "duplicated:",
        sorted(int(m.split()[0][4:]) for m, n in found.items() if n > 1)[:20],
        sum(1 for n in found.values() if n > 1),
    )
    assert set(found) == writer.expected
    assert max(found.values()) == 1 and sum(found.values()) == writer.written == 112_000
