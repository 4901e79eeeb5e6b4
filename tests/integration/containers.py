"""Kafka and Elasticsearch started with testcontainers, over the images built here.

No registry is reachable, so the images are the project's own (``devtools/images.py``) and Ryuk,
the testcontainers reaper that would have to be pulled, is off: these fixtures remove every
container they start themselves, by id. Every container runs on the host network, each server
bound to 127.0.0.1 on free ports picked here, so all traffic stays on the loopback interface and
no port is published anywhere.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from devtools import elasticsearch, images, kafka
from devtools.home import free_port

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer

testcontainers_config.ryuk_disabled = True


class _ReadyContainer(DockerContainer):  # type: ignore[misc]
    """A container on the host network, ready only once ``ready()`` (a real check) says so."""

    what = "server"

    def __init__(self, image: str, **kwargs: Any) -> None:
        super().__init__(image, network_mode="host", **kwargs)

    def ready(self) -> bool:
        raise NotImplementedError

    def wait_ready(self, timeout: float = 180.0) -> None:
        container = self.get_wrapped_container()
        deadline = time.monotonic() + timeout
        while not self.ready():
            container.reload()
            if container.status != "running":
                logs = container.logs(tail=40).decode(errors="replace")
                raise RuntimeError(f"{self.what} container exited during start-up:\n{logs}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.what} container not ready after {timeout:.0f}s")
            time.sleep(0.5)


class KafkaContainer(_ReadyContainer):
    """KRaft single node; ready when it answers metadata and creates a topic."""

    what = "Kafka"

    def __init__(self, image: str, heap_mb: int = 512) -> None:
        super().__init__(image)
        self.port = free_port()
        properties = kafka.SERVER_PROPERTIES.format(
            port=self.port, controller_port=free_port(), data="/var/lib/kafka/data"
        )
        self.with_env("KAFKA_SERVER_PROPERTIES", properties)
        self.with_env("KAFKA_HEAP_MB", str(heap_mb))

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ready(self) -> bool:
        return kafka.is_ready(self.bootstrap)


class ElasticsearchContainer(_ReadyContainer):
    """Single node, security off; ready at cluster health yellow."""

    what = "Elasticsearch"

    def __init__(self, image: str) -> None:
        super().__init__(image)
        self.port = free_port()
        self.with_command(f"-E http.port={self.port} -E transport.port={free_port()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        return elasticsearch.is_ready(self.url)


@contextlib.contextmanager
def started(
    host: str, log: Callable[[str], None]
) -> Iterator[tuple[KafkaContainer, ElasticsearchContainer]]:
    """Both brokers, built if need be; removed by id when the block ends, whatever happened."""
    kafka_image, es_image = images.ensure_brokers(host, log)
    kafka_box, es_box = KafkaContainer(kafka_image), ElasticsearchContainer(es_image)
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        # Both start at once and are waited for together; each is removed by id on the way out.
        for box in (kafka_box, es_box):
            box.start()
            stack.callback(box.stop)
        for box in (kafka_box, es_box):
            box.wait_ready()
        log(
            f"testcontainers: kafka {kafka_box.bootstrap} "
            f"({kafka_box.get_wrapped_container().short_id}), elasticsearch {es_box.url} "
            f"({es_box.get_wrapped_container().short_id}) ready in "
            f"{time.monotonic() - began:.1f}s"
        )
        yield kafka_box, es_box
