"""The product image, run with ``docker run``: a files pipeline into Kafka exactly once, killed
twice with ``docker kill`` (SIGKILL) mid-stream and restarted on its snapshot volume; lost 0,
duplicated 0 for a read_committed reader. Its /healthz, /readyz and /metrics answer from the
container. Runs only where an engine answers (``LOGWAX_TEST_REQUIRE_DOCKER`` makes that a must)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.home import free_port
from tests.integration.brokers import Brokers
from tests.integration.flow_runs import kafka_messages
from tests.integration.image_runs import (
    finish,
    get,
    kill_mid_stream,
    readable_by_group,
    run_logwax,
    wait_until,
    writable_by_image_user,
    write_pipeline_dir,
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
    readable_by_group(directory, 0)  # as the kubelet's pod logs: 0640 root:root
    return expected


def test_killed_container_resumes_from_its_snapshot_volume_exactly_once(
    tmp_path: Path,
    servers: Brokers,
    product_image: str,
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
) -> None:
    expected = write_logs(tmp_path / "logs")
    topic = new_topic(partitions=2)
    config = write_pipeline_dir(
        tmp_path / "config",
        "image_collect",
        {"type": "files", "name": "app", "include": ["/logs/*.log"], "rate_limit": 10000},
        {"bootstrap_servers": servers.kafka_bootstrap, "topic": topic},
        batch={"max_records": 1000, "max_latency": "200ms"},
    )
    state = writable_by_image_user(tmp_path / "state")
    port = free_port()

    def start() -> str:
        inputs = {tmp_path / "logs": "/logs"}
        return run_logwax(product_image, config, state, inputs, port, groups=(0,))

    at_kill = kill_mid_stream(start, kafka_config, topic, (8_000, 15_000))
    container = start()

    assert get(port, "/healthz") == (200, "ok\n")
    _status, metrics = get(port, "/metrics")
    assert "logwax_" in metrics
    wait_until("/readyz 200", lambda: get(port, "/readyz")[0] == 200, container, timeout=90)
    ids = finish(container, kafka_config, topic, len(expected))
    in_kafka = kafka_messages(kafka_config, topic)
    lost = len(expected - set(in_kafka))
    duplicated = sum(n - 1 for n in ids.values())
    print(f"image: committed records when killed {at_kill}; lost={lost} duplicated={duplicated}")
    assert max(at_kill) < len(expected)  # both kills fell mid-stream
    assert lost == 0 and duplicated == 0
    assert set(in_kafka) == expected and len(ids) == len(expected)
    assert any(state.joinpath("recovery").iterdir()), "snapshots went to the volume"
