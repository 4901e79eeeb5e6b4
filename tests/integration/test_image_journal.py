"""The product image reads a journal directory mounted read-only (as the DaemonSet mounts
``/var/log/journal``) with its own ``journalctl`` into Kafka exactly once, and resumes from its
cursor after ``docker kill`` while the journal grew and rotated. The journal is root's and its
group's alone (files 0640), read by uid 10001 through that group added, as the DaemonSet's
``supplementalGroups`` add the host's systemd-journal gid."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from devtools import engine, images
from devtools.home import free_port
from tests.integration.brokers import Brokers
from tests.integration.image_runs import (
    finish,
    kill_mid_stream,
    readable_by_group,
    run_logwax,
    writable_by_image_user,
    write_pipeline_dir,
)
from tests.integration.journal_files import append_entries, journal_ids, rotate

DAEMONSET = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "collect" / "daemonset.yaml"
POD = yaml.safe_load(DAEMONSET.read_text())["spec"]["template"]["spec"]
JOURNAL_GID = POD["securityContext"]["supplementalGroups"][1]  # the DaemonSet's journal group


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
        "python -c 'from logwax.core import native; print(native.describe())'; "
        "command -v gcc cc g++ || true; "
        "python -c 'import pytest' 2>&1 | tail -n 1",
    )
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert lines[0].startswith("systemd "), lines
    expected = ["flows import", "compiled (logwax-native)"]  # the core's wheel was installed
    assert lines[1:] == [*expected, "ModuleNotFoundError: No module named 'pytest'"], (
        lines,
        found.stderr,
    )
    size = images.size_mb(host, product_image)
    print(f"image {product_image}: {size:.0f} MB, {lines[0]}")
    assert size < 250, f"the product image grew to {size:.0f} MB (see the Dockerfile's build stage)"


def test_killed_container_resumes_the_journal_from_its_cursor(
    tmp_path: Path,
    servers: Brokers,
    product_image: str,
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
) -> None:
    journal = tmp_path / "journal" / "system.journal"
    append_entries(journal, 0, 20_000)
    readable_by_group(journal.parent, JOURNAL_GID)
    topic = new_topic(partitions=1)
    config = write_pipeline_dir(
        tmp_path / "config",
        "image_journal",
        {"type": "journald", "name": "node", "directory": "/journal", "rate_limit": 5000},
        {"bootstrap_servers": servers.kafka_bootstrap, "topic": topic},
    )
    state = writable_by_image_user(tmp_path / "state")
    port = free_port()

    def start() -> str:
        inputs = {journal.parent: "/journal"}
        return run_logwax(product_image, config, state, inputs, port, groups=(JOURNAL_GID,))

    def grow(kill_number: int) -> None:
        if kill_number == 0:
            append_entries(journal, 20_000, 20_000)
        else:
            rotate(journal, "0001")
            append_entries(journal, 40_000, 5_000)
        readable_by_group(journal.parent, JOURNAL_GID)

    at_kill = kill_mid_stream(start, kafka_config, topic, (3_000, 3_000), after_kill=grow)
    expected = journal_ids(journal.parent)
    assert len(expected) == 45_000
    ids = finish(start(), kafka_config, topic, len(expected))
    lost, duplicated = len(set(expected) - set(ids)), sum(n - 1 for n in ids.values())
    print(f"image journal: committed when killed {at_kill}; lost={lost} duplicated={duplicated}")
    assert at_kill[0] < 20_000 and at_kill[1] < 40_000  # the kills fell mid-stream
    assert lost == 0 and duplicated == 0 and set(ids) == set(expected)
