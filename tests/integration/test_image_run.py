"""The product image, run with ``docker run``: a files pipeline into Kafka exactly once, killed
twice with ``docker kill`` (SIGKILL) mid-stream and restarted on its snapshot volume; lost 0,
duplicated 0 for a read_committed reader. Its /healthz, /readyz and /metrics answer from the
container. Runs only where an engine answers (``LOGWAX_TEST_REQUIRE_DOCKER`` makes that a must)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from devtools.home import free_port
from logwax.connectors.kafka.admin import topic_end_offsets
from tests.integration.brokers import Brokers
from tests.integration.flow_runs import kafka_event_ids, kafka_messages
from tests.integration.image_runs import (
    STATE,
    get,
    kill,
    readable_by_all,
    run_logwax,
    stop,
    wait_until,
    writable_by_image_user,
)

LINES_PER_FILE, FILES = 20_000, 3


def write_logs(directory: Path) -> set[str]:
    directory.mkdir()
    expected = set()
    for f in range(FILES):
        with open(directory / f"app{f}.log", "w") as out:
            for i in range(LINES_PER_FILE):
                line = f"file={f} seq={i} {'z' * 120}"
                out.write(line + "\n")
                expected.add(line)
    readable_by_all(directory)
    return expected


def pipeline(directory: Path, servers: Brokers, topic: str) -> Path:
    directory.mkdir()
    (directory / "pipeline.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "image_collect",
                "sources": [
                    # Bounded so the kills land mid-stream however fast the reader gets.
                    {
                        "type": "files",
                        "name": "app",
                        "include": ["/logs/*.log"],
                        "rate_limit": 10000,
                    }
                ],
                "kafka": {
                    "bootstrap_servers": servers.kafka_bootstrap,
                    "topic": topic,
                    "exactly_once": True,
                },
                "batch": {"max_records": 1000, "max_latency": "200ms"},
                "recovery": {"directory": f"{STATE}/recovery", "snapshot_interval": "500ms"},
            }
        )
    )
    readable_by_all(directory)
    return directory


def produced(kafka_config: dict[str, Any], topic: str) -> int:
    """Records written so far, committed or not: enough to place a kill mid-stream."""
    return sum(topic_end_offsets(kafka_config, topic).values())


def test_killed_container_resumes_from_its_snapshot_volume_exactly_once(
    tmp_path: Path,
    servers: Brokers,
    product_image: str,
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
) -> None:
    expected = write_logs(tmp_path / "logs")
    topic = new_topic(partitions=2)
    config = pipeline(tmp_path / "config", servers, topic)
    state = writable_by_image_user(tmp_path / "state")
    port = free_port()

    def start() -> str:
        return run_logwax(product_image, config, state, {tmp_path / "logs": "/logs"}, port)

    at_kill = []
    for step in (8_000, 15_000):  # each run gets this far past where the last one left off
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
    container = start()

    assert get(port, "/healthz") == (200, "ok\n")
    _status, metrics = get(port, "/metrics")
    assert "logwax_" in metrics
    wait_until(
        "every line in kafka",
        lambda: sum(kafka_event_ids(kafka_config, topic).values()) >= len(expected),
        container,
        timeout=180,
        poll=2,
    )
    wait_until("/readyz 200", lambda: get(port, "/readyz")[0] == 200, container, timeout=30)
    assert stop(container) == 0

    in_kafka, ids = kafka_messages(kafka_config, topic), kafka_event_ids(kafka_config, topic)
    lost = len(expected - set(in_kafka))
    duplicated = sum(n - 1 for n in ids.values())
    print(f"image: committed records when killed {at_kill}; lost={lost} duplicated={duplicated}")
    assert max(at_kill) < len(expected)  # both kills fell mid-stream
    assert lost == 0 and duplicated == 0
    assert set(in_kafka) == expected and len(ids) == len(expected)
    assert any(state.joinpath("recovery").iterdir()), "snapshots went to the volume"
