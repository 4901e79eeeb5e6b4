"""The index flow in consumer-group mode, scaled while records flow: 1 → 3 → 2 → 1 processes,
one of them SIGKILLed mid-stream, a producer adding records all along; each step waits until the
group handed partitions to the new owners and they indexed more. Nothing but starting and
stopping processes; Elasticsearch ends with every record exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Producer

from tests.integration.brokers import Brokers
from tests.integration.flow_runs import es_count, es_event_ids, start, stop_gracefully, wait_for
from tests.integration.sinks import TestSinks
from tests.integration.test_index_flow import produce

PARTITIONS = 6
FILLED = 100_000
TRICKLE = 200_000  # at most: added while the processes come and go
STAMP = "2026-11-23T00:00:00Z"


def document(event_id: str, n: int) -> tuple[str, dict[str, Any]]:
    return event_id, {"message": f"line {n}", "@timestamp": STAMP, "n": n}


def group_pipeline(tmp_path: Path, servers: Brokers, topic: str, prefix: str, group: str) -> Path:
    config = tmp_path / "index.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "index_group_test",
                "flow": "index",
                "kafka_input": {
                    "bootstrap_servers": servers.kafka_bootstrap,
                    "topics": [topic],
                    "consumer_group": group,
                    "commit_interval": "500ms",
                    # A SIGKILLed member's partitions move after the session expires: the
                    # broker's smallest allowed session keeps the test short.
                    "consumer_options": {"session.timeout.ms": 6000},
                },
                "transforms": [{"add": {"pipeline": "group-test"}}],
                "elasticsearch": {"hosts": [servers.elasticsearch_url], "index": f"{prefix}-%Y"},
            }
        )
    )
    return config


class Trickle:
    """A producer adding records, 1,000 a second, from its own thread until stopped (bounded
    by ``TRICKLE`` records and 240 s)."""

    def __init__(self, kafka_config: dict[str, Any], topic: str) -> None:
        self.kafka_config, self.topic = kafka_config, topic
        self.sent: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        producer = Producer({**self.kafka_config, "enable.idempotence": True, "linger.ms": 20})
        deadline = time.monotonic() + 240
        while len(self.sent) < TRICKLE and time.monotonic() < deadline:
            for _ in range(250):
                n = FILLED + len(self.sent)
                event_id, doc = document(f"late-{n}", n)
                producer.produce(
                    self.topic, json.dumps(doc).encode(), headers=[("event_id", event_id.encode())]
                )
                self.sent.append(event_id)
                producer.poll(0)
            if self.stop.wait(0.25):
                break
        assert producer.flush(60) == 0

    def __enter__(self) -> Trickle:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=90)


def test_index_group_scaled_while_flowing_is_exactly_once(
    tmp_path: Path, new_sinks: Callable[..., TestSinks]
) -> None:
    topic, prefix, servers, kafka_config, es = new_sinks(PARTITIONS).parts()
    began = time.monotonic()
    filled = [document(f"early-{n}", n) for n in range(FILLED)]
    produce(kafka_config, topic, filled)
    config = group_pipeline(tmp_path, servers, topic, prefix, f"test-{uuid.uuid4().hex[:8]}")
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def run(name: str) -> None:
        home = tmp_path / name
        home.mkdir()
        procs[name] = start(config, home)

    def alive() -> subprocess.Popen[bytes]:
        return next(p for p in procs.values() if p.poll() is None)

    def reach(count: int, timeout: float = 180) -> None:
        wait_for(
            f"{count} documents",
            lambda: es_count(es, prefix) >= count,
            alive(),
            tmp_path / "a" / "logwax.log",
            timeout=timeout,
        )

    def assignments(name: str) -> int:
        """Partitions handed to ``name`` so far, by its log ("assigned none" not counted)."""
        return (tmp_path / name / "logwax.log").read_text().count(f" assigned {topic}/")

    def rebalanced(names: str, before: int | None = None) -> None:
        """Wait until the group handed partitions to each of ``names`` (more than ``before``
        in all, if given), then until 5,000 more records are in: the new owners index."""
        wait_for(
            f"partitions assigned to {names}",
            lambda: (
                all(assignments(n) > 0 for n in names)
                and (before is None or sum(assignments(n) for n in names) > before)
            ),
            alive(),
            tmp_path / "a" / "logwax.log",
            timeout=60,
            poll=0.2,
        )
        reach(es_count(es, prefix) + 5_000)
        took = time.monotonic() - began
        steps.append(f"{names} own partitions: {es_count(es, prefix)} documents at {took:.0f}s")

    steps: list[str] = []
    with Trickle(kafka_config, topic) as trickle:
        run("a")  # 1 process
        rebalanced("a")
        run("b")
        run("c")  # 3 processes
        rebalanced("bc")
        before = assignments("a") + assignments("c")
        procs["b"].send_signal(signal.SIGKILL)  # 2 processes; b's partitions move after 6 s
        assert procs["b"].wait(timeout=30) == -signal.SIGKILL
        rebalanced("ac", before)
        before = assignments("a")
        stop_gracefully(procs["c"], tmp_path / "c" / "logwax.log")  # 1 process
        rebalanced("a", before)
        assert trickle.thread.is_alive(), "records stopped arriving before the scaling was over"
    sent = {event_id for event_id, _ in filled} | set(trickle.sent)
    reach(len(sent), timeout=240)
    stop_gracefully(procs["a"], tmp_path / "a" / "logwax.log")
    print("\n".join(steps))

    ids = es_event_ids(es, prefix)
    seconds = time.monotonic() - began
    duplicates = sum(ids.values()) - len(ids)
    logs = "".join((tmp_path / n / "logwax.log").read_text() for n in procs)
    print(
        f"sent={len(sent)} in_es={sum(ids.values())} unique={len(ids)} duplicates={duplicates}"
        f" seconds={seconds:.0f} revokes={logs.count(' revoked ')}"
        f" fenced_commits={logs.count('commit refused after a rebalance')}"
    )
    assert set(ids) == sent
    assert duplicates == 0
    assert es_count(es, prefix) == len(sent)  # and nothing else in the index
    for name in ("a", "c"):
        assert "left consumer group" in (tmp_path / name / "logwax.log").read_text()
