"""Transactions that go wrong: a refused record, and a run killed with a transaction open.

A record the broker refuses inside a transaction, with no dead-letter topic to put it in, must
stop the flow and commit nothing.

The exactly-once sink asks for a delivery report only for the last record of each batch; a
failure of an earlier record puts the transaction in librdkafka's abortable error state, which
purges what is still queued (so the last record's report fails) and makes ``commit_transaction``
raise. Against a real broker: one record too large for the topic, then small ones the broker
would accept; either way the flow must stop with nothing visible.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import KafkaException, Producer

from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.transactional import ExactlyOnceKafkaSink, partition_name
from logwax.core.errors import DeliveryError
from logwax.core.record import Record
from tests.integration.brokers import Brokers
from tests.integration.flow_runs import start, stop_gracefully
from tests.integration.kafka_helpers import read_all
from tests.integration.oversize_helpers import lower_limit


def record(i: int, message: str) -> Record:
    return Record("t", "stream", f"e{i}", 0, message, {})


def test_a_refused_record_without_a_dead_letter_topic_fails_the_commit_and_nothing_shows(
    kafka_config: dict[str, Any], new_topic: Callable[..., str]
) -> None:
    """The sink sizes records against the limits it read at start; the topic's limit is lowered
    afterwards, so the broker itself refuses the record. With nowhere to dead-letter it, the
    transaction must abort with nothing visible (with a dead-letter topic, see
    ``test_kafka_oversize``)."""
    topic = new_topic(1)
    config = KafkaSinkConfig(
        bootstrap_servers=kafka_config["bootstrap.servers"],
        topic=topic,
        exactly_once=True,
        compression="none",
        linger="0s",
        delivery_timeout="10s",
        producer_options={"batch.size": 2048},
    )
    sink = ExactlyOnceKafkaSink(config, f"test-{os.getpid()}")
    part = sink.build_part("sink", partition_name(0), None)
    lower_limit(kafka_config, topic, 4096)
    too_large = os.urandom(6000).hex()
    batch = [record(0, too_large)] + [record(i, "small") for i in range(1, 50)]
    with pytest.raises((DeliveryError, KafkaException), match="dead_letter_topic"):
        part.write_batch([batch])
        part.snapshot()
    assert read_all(kafka_config, topic) == []


def test_a_crashed_runs_open_transaction_is_aborted_at_start_even_without_new_records(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
) -> None:
    """bytewax builds a sink partition only when a record reaches it; without the start-up wake
    a restarted flow with nothing for partition 0 would leave the dead run's transaction open,
    hiding every later record of that partition from ``read_committed`` readers for the whole
    transaction timeout (60 s here, 2 min by default)."""
    topic = new_topic(2)
    dead_run = Producer(
        {
            **kafka_config,
            "transactional.id": f"logwax-eo_wake-{topic}-{partition_name(0)}",
            "transaction.timeout.ms": 60_000,
        }
    )
    dead_run.init_transactions(30)
    dead_run.begin_transaction()
    dead_run.produce(topic, value=b"uncommitted", partition=0)
    assert dead_run.flush(30) == 0
    later = Producer({**kafka_config, "enable.idempotence": True})
    later.produce(topic, value=b"committed later", partition=0)
    assert later.flush(30) == 0

    (tmp_path / "logs").mkdir()
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "eo_wake",
                "sources": [{"type": "files", "name": "app", "include": [f"{tmp_path}/logs/*"]}],
                "kafka": {
                    "bootstrap_servers": servers.kafka_bootstrap,
                    "topic": topic,
                    "exactly_once": True,
                },
                "recovery": {"directory": str(tmp_path / "recovery"), "snapshot_interval": "1s"},
            }
        )
    )
    proc = start(config, tmp_path)
    try:
        deadline, values = time.monotonic() + 20, []
        while not values and time.monotonic() < deadline:
            values = [m.value() for m in read_all(kafka_config, topic)]  # [] while it is open
            time.sleep(0.5)
    finally:
        stop_gracefully(proc)
    assert values == [b"committed later"]
