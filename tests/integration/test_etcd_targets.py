"""Collection targets changed in a real etcd while the collect flow runs: the new target's
records arrive in its topic, the removed target's stop, nothing is lost from the target that
stayed, a bad document changes nothing, and an etcd restart does not stop collection."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.process import Running
from logwax.connectors.etcd.config import EtcdTargetsConfig
from logwax.connectors.etcd.gateway import EtcdGateway
from tests.integration.brokers import Brokers
from tests.integration.etcd_server import LocalEtcd
from tests.integration.flow_runs import start, stop_gracefully, wait_for
from tests.integration.kafka_helpers import read_all
from tests.integration.pipelines import kafka_sink, write_pipeline


class Appender(Running):
    """Writes numbered lines to several files until stopped, remembering what it wrote."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files, self.written = files, Counter[str]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for name, path in self.files.items():
                with open(path, "a") as out:
                    out.write(f"{name} {self.written[name]}\n")
                self.written[name] += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def messages(kafka_config: dict[str, Any], topic: str) -> list[str]:
    return [json.loads(m.value())["message"] for m in read_all(kafka_config, topic)]


def target(name: str, directory: Path, topic: str) -> dict[str, Any]:
    return {
        "name": name,
        "include": [f"{directory}/{name}/*.log"],
        "topic": topic,
        "scan_interval": "200ms",
    }


def test_targets_follow_etcd_live(
    tmp_path: Path,
    servers: Brokers,
    etcd: LocalEtcd,
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
) -> None:
    topics = {name: new_topic() for name in ("stay", "leave", "join", "default")}
    files = {}
    for name in ("stay", "leave", "join"):
        (tmp_path / name).mkdir()
        files[name] = tmp_path / name / "app.log"
    settings = EtcdTargetsConfig(endpoints=[etcd.url], key="/logwax/targets/test-node")
    gateway = EtcdGateway(settings)

    def publish(*targets: dict[str, Any]) -> None:
        gateway.put(settings.key, json.dumps({"targets": list(targets)}).encode())

    publish(target("stay", tmp_path, topics["stay"]), target("leave", tmp_path, topics["leave"]))
    config = write_pipeline(
        tmp_path,
        "targets_test",
        etcd_targets={"endpoints": [etcd.url], "key": settings.key, "poll_interval": "200ms"},
        kafka=kafka_sink(servers, topics["default"]),
    )
    log = tmp_path / "logwax.log"
    proc = start(config, tmp_path)
    with Appender(files) as appender:
        wait_for(
            "both first targets",
            lambda: len(messages(kafka_config, topics["leave"])) > 20,
            proc,
            log,
        )
        gateway.put(settings.key, b"targets: [ {name: broken, include: 7} ]")  # rejected
        time.sleep(1)
        assert "targets rejected" in log.read_text()

        publish(target("stay", tmp_path, topics["stay"]), target("join", tmp_path, topics["join"]))
        wait_for(
            "the new target",
            lambda: len(messages(kafka_config, topics["join"])) > 20,
            proc,
            log,
            timeout=30,
        )
        left_at = appender.written["leave"]

        changed = {**target("stay", tmp_path, topics["stay"]), "format": "json"}
        publish(changed, target("join", tmp_path, topics["join"]))
        wait_for(
            "the changed setting",
            lambda: any(
                "json_parse_error" in json.loads(m.value()).get("tags", [])
                for m in read_all(kafka_config, topics["stay"])
            ),
            proc,
            log,
            timeout=30,
        )

        etcd.stop()  # collection goes on with the last targets while etcd is away
        time.sleep(3)
        etcd.start()
        time.sleep(2)
    assert proc.poll() is None
    wait_for(
        "every line of the target that stayed",
        lambda: len(messages(kafka_config, topics["stay"])) >= appender.written["stay"],
        proc,
        log,
        timeout=60,
    )
    stop_gracefully(proc)

    stay = messages(kafka_config, topics["stay"])
    assert sorted(stay) == sorted(f"stay {i}" for i in range(appender.written["stay"]))
    leave = messages(kafka_config, topics["leave"])
    assert len(leave) <= left_at and appender.written["leave"] > left_at + 50  # it stopped
    assert messages(kafka_config, topics["join"])
    assert messages(kafka_config, topics["default"]) == []
    assert "etcd unreachable" in log.read_text()
