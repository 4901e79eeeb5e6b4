"""Running the product image with ``docker run`` the way an operator would, and killing it.

Every container is on the host network (its metrics port and its Kafka traffic stay on
loopback), runs as uid 10001 with a read-only root file system, reads its inputs from read-only
mounts and keeps its snapshots in the one writable mount, ``/var/lib/logwax``. Each container
started here is removed by id when the test ends (``remove_started``).
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from devtools import engine, images
from logwax.connectors.kafka.admin import topic_end_offsets
from tests.integration import kafka_helpers
from tests.integration.flow_runs import kafka_event_ids

STATE = "/var/lib/logwax"
STARTED: list[str] = []


def docker(*args: str) -> str:
    host = os.environ[engine.HOST_ENV]
    result = images.docker(host, *args)
    if result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:2])} failed: {result.stderr[-2000:]}")
    return result.stdout


def writable_by_image_user(directory: Path) -> Path:
    """The snapshot volume belongs to uid 10001, as a volume provisioned for the pod would."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chown(directory, 10001, 10001)
    return directory


def readable_by_all(directory: Path) -> None:
    """A file every user may read, as a ConfigMap's."""
    for path in [directory, *directory.rglob("*")]:
        path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))


def readable_by_group(directory: Path, gid: int) -> None:
    """Host logs as a node keeps them: root's, readable by one group only (directories 0750,
    files 0640), so the image's uid 10001 reads them only with that group added, as the collect
    DaemonSet's supplementary groups do (0 for the kubelet's pod logs, the journal's group)."""
    for path in [directory, *directory.rglob("*")]:
        os.chown(path, 0, gid)
        path.chmod(0o750 if path.is_dir() else 0o640)


def run_logwax(
    image: str,
    config_dir: Path,
    state_dir: Path,
    inputs: dict[Path, str],
    metrics_port: int,
    groups: tuple[int, ...] = (),
) -> str:
    """``docker run -d`` the image on ``/etc/logwax/pipeline.yaml`` with these supplementary
    ``groups``; returns the container id once the flow runs."""
    args = [
        "run",
        "--detach",
        "--network",
        "host",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--user",
        "10001:10001",
        *(f"--group-add={gid}" for gid in groups),
        "--volume",
        f"{config_dir}:/etc/logwax:ro",
        "--volume",
        f"{state_dir}:{STATE}",
    ]
    for source, target in inputs.items():
        args += ["--volume", f"{source}:{target}:ro"]
    args += [image, "run", "-c", "/etc/logwax/pipeline.yaml", "--metrics-port", str(metrics_port)]
    container = docker(*args).strip()
    STARTED.append(container)
    wait_until(
        "the flow to start in the container",
        lambda: " started workers=" in logs(container),
        container,
        timeout=90,
    )
    return container


def logs(container: str) -> str:
    host = os.environ[engine.HOST_ENV]
    result = images.docker(host, "logs", container)
    return result.stdout + result.stderr


def running(container: str) -> bool:
    return docker("inspect", "-f", "{{.State.Running}}", container).strip() == "true"


def wait_until(
    what: str, check: Callable[[], bool], container: str, timeout: float, poll: float = 0.25
) -> None:
    deadline = time.monotonic() + timeout
    while not _checked(check):
        if not running(container):
            raise AssertionError(f"container exited while waiting for {what}:\n{logs(container)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{logs(container)[-3000:]}")
        time.sleep(poll)


def kill(container: str) -> None:
    """``docker kill``: SIGKILL to the process, no chance to drain or snapshot."""
    docker("kill", "--signal", "KILL", container)
    state = docker("inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", container).split()
    assert state == ["false", "137"], state


def stop(container: str) -> int:
    """``docker stop``: SIGTERM, as Kubernetes stops a pod; returns the exit code."""
    docker("stop", "--time", "60", container)
    return int(docker("inspect", "-f", "{{.State.ExitCode}}", container).strip())


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def remove_started() -> None:
    while STARTED:
        images.docker(os.environ[engine.HOST_ENV], "rm", "--force", "--volumes", STARTED.pop())


def write_pipeline_dir(
    directory: Path, name: str, source: dict[str, object], kafka: dict[str, object], **more: object
) -> Path:
    """``<directory>/pipeline.yaml`` readable by the image user, snapshots on the state volume.
    Sources are rate-limited by the callers so the kills land mid-stream however fast the
    reader gets."""
    directory.mkdir()
    document = {
        "name": name,
        "sources": [source],
        "kafka": {**kafka, "exactly_once": True},
        "recovery": {"directory": f"{STATE}/recovery", "snapshot_interval": "500ms"},
        **more,
    }
    (directory / "pipeline.yaml").write_text(yaml.safe_dump(document))
    readable_by_all(directory)
    return directory


def produced(kafka_config: dict[str, Any], topic: str) -> int:
    """Records written so far, committed or not: enough to place a kill mid-stream."""
    return sum(topic_end_offsets(kafka_config, topic).values())


def kill_mid_stream(
    start: Callable[[], str],
    kafka_config: dict[str, Any],
    topic: str,
    steps: tuple[int, ...],
    after_kill: Callable[[int], None] | None = None,
) -> list[int]:
    """Start a container and ``docker kill`` it once it wrote ``step`` records past where the
    last one left off, once per step; returns the committed records at each kill."""
    at_kill = []
    for kill_number, step in enumerate(steps):
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
        if after_kill is not None:
            after_kill(kill_number)
    return at_kill


def finish(container: str, kafka_config: dict[str, Any], topic: str, count: int) -> Counter[str]:
    """Wait for ``count`` committed records, stop the container as Kubernetes would (it must
    exit 0) and return the event ids in the topic."""
    wait_until(
        f"{count} records in kafka",
        lambda: sum(kafka_event_ids(kafka_config, topic).values()) >= count,
        container,
        timeout=180,
        poll=2,
    )
    assert stop(container) == 0
    return kafka_event_ids(kafka_config, topic)


def _checked(check: Callable[[], bool]) -> bool:
    """A wait loop's poll: Kafka reads in it do not wait for transaction markers (it polls
    again), see ``kafka_helpers.polling``."""
    with kafka_helpers.polling():
        return check()
