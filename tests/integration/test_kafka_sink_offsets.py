"""The exactly-once sink partition's resume offsets, which it reads from the broker once per
snapshot instead of from a delivery report per record: past every record it committed, before
anything committed later, and unchanged by a snapshot with nothing committed since."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.transactional import ExactlyOnceKafkaSink, partition_name
from logwax.core.record import Record
from tests.integration.kafka_helpers import read_all


def records(first: int, count: int) -> list[Record]:
    return [Record("t", "stream", f"e{i}", 0, f"line {i}", {}) for i in range(first, first + count)]


def test_each_snapshot_resumes_past_what_it_committed_and_before_what_follows(
    kafka_config: dict[str, Any], new_topic: Callable[..., str]
) -> None:
    topic = new_topic(1)
    config = KafkaSinkConfig(
        bootstrap_servers=kafka_config["bootstrap.servers"], topic=topic, exactly_once=True
    )
    part = ExactlyOnceKafkaSink(config, f"offsets-{os.getpid()}").build_part(
        "sink", partition_name(0), None
    )
    try:
        part.write_batch([records(0, 700), records(700, 300)])
        first = part.snapshot()
        assert part.snapshot() == first  # nothing committed since: no move
        part.write_batch([records(1000, 500)])
        second = part.snapshot()
    finally:
        part.close()

    messages = read_all(kafka_config, topic)
    offsets = {json.loads(m.value())["message"]: m.offset() for m in messages}
    assert len(messages) == 1500
    main_first, main_second = first[0], second[0]  # type: ignore[index]
    assert main_first is not None and main_second is not None
    assert offsets["line 999"] < main_first <= offsets["line 1000"]
    assert offsets["line 1499"] < main_second
