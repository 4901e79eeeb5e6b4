"""The product image reads a journal directory mounted read-only (as the DaemonSet mounts
``/var/log/journal``) with its own ``journalctl`` into Kafka exactly once, and resumes from its
cursor after ``docker kill`` while the journal grew and rotated."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from devtools import engine, images
from devtools.home import free_port
from tests.integration.brokers import Brokers
from tests.integration.flow_runs import kafka_event_ids
from tests.integration.image_runs import (
    STATE,
    kill,
    readable_by_all,
    run_logwax,
    stop,
    wait_until,
    writable_by_image_user,
)
from tests.integration.journal_files import append_entries, rotate
from tests.integration.test_image_run import produced
from tests.integration.test_journald_flow import journal_ids


def test_image_ships_journalctl_every_flow_and_no_compiler(product_image: str) -> None:
    host = os.environ[engine.HOST_ENV]
    found = images.docker(
        host,
        "run",
        "--rm",
        "--network",
        "host",
        "--entrypoint",
        "sh",
        product_image,
        "-c",
        "journalctl --version | head -n 1; "
        "python -c 'import logwax.flows.collect, logwax.flows.index, logwax.flows.events, "
        "logwax.connectors.k8s_events.watcher' && echo flows import; "
        "command -v gcc cc g++ || true; "
        "python -c 'import pytest' 2>&1 | tail -n 1",
    )
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert lines[0].startswith("systemd "), lines
    assert lines[1:] == ["flows import", "ModuleNotFoundError: No module named 'pytest'"], (
        lines,
        found.stderr,
    )
    print(f"image {product_image}: {images.size_mb(host, product_image):.0f} MB, {lines[0]}")


def test_killed_container_resumes_the_journal_from_its_cursor(
    tmp_path: Path,
    servers: Brokers,
    product_image: str,
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
) -> None:
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 20_000)
    readable_by_all(journal.parent)
    topic = new_topic(partitions=1)
    config = tmp_path / "config"
    config.mkdir()
    (config / "pipeline.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "image_journal",
                "sources": [
                    # Bounded so the kills land mid-stream however fast the reader gets.
                    {
                        "type": "journald",
                        "name": "node",
                        "directory": "/journal",
                        "rate_limit": 5000,
                    }
                ],
                "kafka": {
                    "bootstrap_servers": servers.kafka_bootstrap,
                    "topic": topic,
                    "exactly_once": True,
                },
                "recovery": {"directory": f"{STATE}/recovery", "snapshot_interval": "500ms"},
            }
        )
    )
    readable_by_all(config)
    state = writable_by_image_user(tmp_path / "state")
    port = free_port()

    def start() -> str:
        return run_logwax(product_image, config, state, {journal.parent: "/journal"}, port)

    at_kill = []
    for kill_number, step in enumerate((3_000, 3_000)):  # past where the last run left off
        container = start()
        threshold = produced(kafka_config, topic) + step
        wait_until(
            f"{threshold} records",
            lambda t=threshold: produced(kafka_config, topic) >= t,
            container,
            timeout=120,
        )
        kill(container)
        at_kill.append(sum(kafka_event_ids(kafka_config, topic).values()))
        if kill_number == 0:
            append_entries(journal, 20_000, 20_000)
        else:
            rotate(journal, "0001")
            append_entries(journal, 40_000, 5_000)
        readable_by_all(journal.parent)
    expected = journal_ids(journal.parent)
    assert len(expected) == 45_000
    container = start()
    wait_until(
        "every entry in kafka",
        lambda: sum(kafka_event_ids(kafka_config, topic).values()) >= len(expected),
        container,
        timeout=180,
        poll=2,
    )
    assert stop(container) == 0

    ids = kafka_event_ids(kafka_config, topic)
    lost, duplicated = len(set(expected) - set(ids)), sum(n - 1 for n in ids.values())
    print(f"image journal: committed when killed {at_kill}; lost={lost} duplicated={duplicated}")
    assert at_kill[0] < 20_000 and at_kill[1] < 40_000  # the kills fell mid-stream
    assert lost == 0 and duplicated == 0 and set(ids) == set(expected)
