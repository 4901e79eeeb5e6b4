"""The exactly-once Kafka sink against the secured broker, driven as bytewax drives it: its
dead-letter topic with the README's ACL rows, and its start waiting out a refused ACL (the
dead-letter topic's, the read-back's topic READ) instead of stopping the job."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from confluent_kafka import Producer

from logwax.connectors.kafka import diagnosis
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.connectors.kafka.transactional import ExactlyOnceKafkaSink, partition_name
from logwax.core.record import Record
from tests.integration.oversize_helpers import by_event_id, documents, sized
from tests.integration.secured_kafka import SecuredCluster, producer_acls, readback_acls

TOPIC_ACL = "fix=an ACL: the topic (WRITE/READ and DESCRIBE)"


def small(i: int) -> Record:
    return Record("test", "small", f"n{i}", 1_700_000_000_000_000_000, f"normal {i}", {})


def sink_config(secured: SecuredCluster, user: str, password: str, topic: str, dead: str) -> Any:
    return KafkaSinkConfig(
        bootstrap_servers=secured.broker.sasl_bootstrap,
        topic=topic,
        dead_letter_topic=dead,
        exactly_once=True,
        oversize="dead_letter",
        delivery_timeout="20s",
        security=secured.security(user, password),
    )


def topic_rows(principal: str, topic: str) -> list[Any]:
    """The README's rows for a topic of the exactly-once sink: WRITE, DESCRIBE and READ."""
    return producer_acls(principal, topic, None) + readback_acls(principal, topic)[:1]


def build_in_background(sink: ExactlyOnceKafkaSink) -> tuple[threading.Thread, list[Any]]:
    """A thread building partition 0 and using it once (its start, init_transactions and the
    read-back, runs beside the flow and is waited for at the first use)."""
    built: list[Any] = []

    def build() -> None:
        part = sink.build_part("sink", partition_name(0), None)
        part.snapshot()  # nothing open to commit: waits for the start, or raises what it did
        built.append(part)

    thread = threading.Thread(target=build, daemon=True)
    thread.start()
    return thread, built


def wait_reason(bootstrap: str, words: str, thread: threading.Thread, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        said = diagnosis.last_reason(bootstrap)
        if said is not None and words in said:
            return said
        assert thread.is_alive(), "the sink partition's start ended instead of waiting"
        time.sleep(0.2)
    raise AssertionError(f"no refusal with {words!r}; last: {diagnosis.last_reason(bootstrap)}")


def test_dead_letters_over_sasl_ssl_with_the_documented_acls(secured: SecuredCluster) -> None:
    """Both topics with the README's rows, nothing more: the records and the dead letter of the
    one over the producer's limit land once, each in its place, in one transaction."""
    topic, dead = secured.new_topic(), secured.new_topic()
    user, password = secured.new_user()
    principal, prefix = f"User:{user}", "logwax-secure_dead"
    secured.grant(
        producer_acls(principal, topic, f"{prefix}-")[2:]  # the transactional-id rows
        + topic_rows(principal, topic)
        + topic_rows(principal, dead)
        + readback_acls(principal, topic)[1:]  # the read-back's group DESCRIBE
    )
    config = sink_config(secured, user, password, topic, dead)
    part = ExactlyOnceKafkaSink(config, prefix).build_part("sink", partition_name(0), None)
    part.write_batch([[small(0), sized("big", 2_000_000), small(1)]])
    part.snapshot()
    part.close()

    admin = secured.broker.admin_config()
    assert set(by_event_id(documents(admin, topic))) == {"n0", "n1"}
    letters = by_event_id(documents(admin, dead))
    assert set(letters) == {"big"} and letters["big"]["reason"] == "oversize"


def test_a_missing_dead_letter_topic_acl_is_waited_out_and_said_once(
    secured: SecuredCluster, caplog: Any
) -> None:
    """The job may write its topic but not its dead-letter topic: the sink's start waits, says
    which ACL in one line, and goes on once the operator grants it."""
    topic, dead = secured.new_topic(), secured.new_topic()
    user, password = secured.new_user()
    principal, prefix = f"User:{user}", "logwax-secure_dead_wait"
    secured.grant(producer_acls(principal, topic, f"{prefix}-") + readback_acls(principal, topic))
    bootstrap = secured.broker.sasl_bootstrap
    sink = ExactlyOnceKafkaSink(sink_config(secured, user, password, topic, dead), prefix)
    thread, built = build_in_background(sink)
    said = wait_reason(bootstrap, TOPIC_ACL, thread)
    assert f"kafka={bootstrap}" in said and not built

    secured.grant(topic_rows(principal, dead))
    thread.join(90)
    assert built, "the sink partition did not start once the ACL was granted"
    built[0].write_batch([[small(0), sized("big", 2_000_000)]])
    built[0].snapshot()
    built[0].close()
    admin = secured.broker.admin_config()
    assert set(by_event_id(documents(admin, topic))) == {"n0"}
    assert set(by_event_id(documents(admin, dead))) == {"big"}
    lines = [r.getMessage() for r in caplog.records if TOPIC_ACL in r.getMessage()]
    assert len(lines) == 1, lines
    assert password not in caplog.text


def test_the_read_back_waits_out_a_missing_topic_read(secured: SecuredCluster) -> None:
    """A crashed run committed a record after the snapshot; the restarted partition must read it
    back, but the job's topic READ is missing: the start waits (instead of stopping the job,
    which would stop again at every restart) and reads it once READ is granted."""
    topic, dead = secured.new_topic(), secured.new_topic()
    committed = Producer(secured.broker.admin_config())
    value = json.dumps({"event": {"id": "committed-1"}}).encode()
    committed.produce(topic, value=value, headers=[("event_id", b"committed-1")])
    assert committed.flush(30) == 0
    user, password = secured.new_user()
    principal, prefix = f"User:{user}", "logwax-secure_readback"
    secured.grant(
        producer_acls(principal, topic, f"{prefix}-")
        + readback_acls(principal, topic)[1:]  # the group row, not the topic READ
        + topic_rows(principal, dead)
    )
    bootstrap = secured.broker.sasl_bootstrap
    sink = ExactlyOnceKafkaSink(sink_config(secured, user, password, topic, dead), prefix)
    thread, built = build_in_background(sink)
    said = wait_reason(bootstrap, TOPIC_ACL, thread)
    assert "TOPIC_AUTHORIZATION_FAILED" in said or "Topic authorization failed" in said

    secured.grant(readback_acls(principal, topic)[:1])
    thread.join(90)
    assert built, "the read-back did not go on once READ was granted"
    part = built[0]
    part.write_batch([[Record("test", "s", "committed-1", 1, "replayed", {}), small(2)]])
    part.snapshot()
    part.close()
    ids = [d["event"]["id"] for d in documents(secured.broker.admin_config(), topic)]
    assert sorted(ids) == ["committed-1", "n2"]  # the replay skipped, not written twice
    assert diagnosis.last_reason(bootstrap) is None  # cleared once accepted
