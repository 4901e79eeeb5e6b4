"""A real Apache Kafka broker (KRaft, one combined broker+controller node) as a local process.

Single-node replication settings for the offsets and transaction-state topics are what make the
idempotent and transactional producers work on one broker; without them ``init_transactions``
waits forever for replicas that do not exist.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from devtools import maven, process
from devtools.errors import DevServerError
from devtools.home import DevPaths, free_port, pid_alive, port_open

KAFKA_VERSION = "4.1.1"
ARTIFACTS = [
    f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}",
    # Kafka 4.x ships no logging backend; without one the broker logs nothing at all.
    "org.slf4j:slf4j-api:1.7.36",
    "org.slf4j:slf4j-simple:1.7.36",
]
READY_TOPIC = "__logwax_ready"
_quiet = logging.getLogger("devtools.kafka.client")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False

# What every single-node dev broker has, plain or secured: its data, no automatic topics,
# internal topics of one replica, and transactions as long as the tests' snapshots need.
SINGLE_NODE_PROPERTIES = """\
log.dirs={data}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
transaction.max.timeout.ms=900000
"""

_LISTENERS = """\
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.quorum.voters=1@127.0.0.1:{controller_port}
"""
SERVER_PROPERTIES = _LISTENERS + SINGLE_NODE_PROPERTIES


@dataclass(frozen=True)
class KafkaServer:
    """Where a running local broker listens and which process it is."""

    bootstrap: str
    pid: int

    def to_state(self) -> dict[str, object]:
        return {"bootstrap": self.bootstrap, "pid": self.pid}


def fetch(dev: DevPaths) -> Path:
    return maven.copy_dependencies(
        ARTIFACTS, dev.cache / f"kafka-{KAFKA_VERSION}", dev.cache / "maven.log"
    )


def proxied(properties: str, proxy_port: int) -> tuple[str, int]:
    """Clients of the PLAINTEXT listener are told to come through a proxy on ``proxy_port``;
    a DIRECT listener (also used by the broker itself) stays reachable without it."""
    direct = free_port()
    lines = []
    for line in properties.splitlines():
        if line.startswith("listeners="):
            line = f"{line},DIRECT://127.0.0.1:{direct}"
        elif line.startswith("advertised.listeners="):
            line = f"advertised.listeners=PLAINTEXT://127.0.0.1:{proxy_port},DIRECT://127.0.0.1:{direct}"
        elif line.startswith("listener.security.protocol.map="):
            line = f"{line},DIRECT:PLAINTEXT"
        lines.append(line)
    lines.append("inter.broker.listener.name=DIRECT")
    return "\n".join(lines) + "\n", direct


def start(
    dev: DevPaths,
    heap_mb: int,
    timeout: float = 120.0,
    *,
    home: Path | None = None,
    behind_proxy: tuple[int, int] | None = None,
) -> tuple[KafkaServer, float]:
    """Format a fresh data dir, start the broker, wait until it is really ready.

    ``home`` and ``behind_proxy`` = (listen port, proxy port) make a broker of a test's own
    whose clients go through a fault-injecting proxy; its ``bootstrap`` is then the direct one.
    Returns the server and the seconds its readiness took.
    """
    lib = fetch(dev)
    home = home or dev.run / "kafka"
    shutil.rmtree(home, ignore_errors=True)
    data = home / "data"
    data.mkdir(parents=True)
    port, controller_port = behind_proxy[0] if behind_proxy else free_port(), free_port()
    config = home / "server.properties"
    properties = SERVER_PROPERTIES.format(port=port, controller_port=controller_port, data=data)
    if behind_proxy:
        properties, port = proxied(properties, behind_proxy[1])
    config.write_text(properties)
    classpath = f"{lib}/*"
    java = shutil.which("java") or "java"
    log = home / "kafka.log" if behind_proxy else dev.logs() / "kafka.log"
    cluster_id = subprocess.run(
        [java, "-cp", classpath, "kafka.tools.StorageTool", "random-uuid"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    formatted = subprocess.run(
        [
            java,
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(config),
        ],
        capture_output=True,
        text=True,
    )
    if formatted.returncode != 0:
        raise DevServerError(f"Kafka storage format failed:\n{formatted.stdout}{formatted.stderr}")
    pid = process.spawn(
        [java, f"-Xms{heap_mb}m", f"-Xmx{heap_mb}m", "-cp", classpath, "kafka.Kafka", str(config)],
        log=log,
        env={"KAFKA_HEAP_OPTS": f"-Xmx{heap_mb}m"},
    )
    server = KafkaServer(bootstrap=f"127.0.0.1:{port}", pid=pid)
    waited = process.wait_until(
        f"Kafka at {server.bootstrap}",
        lambda: port_open(port) and is_ready(server.bootstrap),
        timeout=timeout,
        alive=lambda: pid_alive(pid),
        log=log,
    )
    return server, waited


def is_ready(bootstrap: str | dict[str, Any]) -> bool:
    """The broker answers metadata and can create a topic (which needs an active controller).

    ``bootstrap`` is an address, or a whole client config for a broker that needs credentials.
    """
    given = {"bootstrap.servers": bootstrap} if isinstance(bootstrap, str) else bootstrap
    options: dict[str, Any] = {**given, "logger": _quiet}
    admin = AdminClient(options)
    try:
        admin.list_topics(timeout=2)
        futures = admin.create_topics([NewTopic(READY_TOPIC, 1, 1)], operation_timeout=5)
        futures[READY_TOPIC].result(timeout=10)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        return getattr(error, "name", lambda: "")() == "TOPIC_ALREADY_EXISTS"
    return True
