"""The collect flow with exactly-once Kafka: 100,000 lines, SIGKILLed at five random moments,
restarted each time from its recovery directory; then every line is in Kafka (read_committed)
exactly once and in Elasticsearch exactly once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.integration.flow_runs import (
    crash_after_commit,
    kafka_messages,
    kill_at_random_moments,
    start,
    stop_gracefully,
)
from tests.integration.pipelines import files_source, write_numbered_lines, write_pipeline
from tests.integration.secured_kafka import SecuredCluster, producer_acls, readback_acls
from tests.integration.sinks import TestSinks

LINES_PER_FILE, FILES = 25_000, 4
EXACTLY_ONCE = True


def write_files(directory: Path) -> set[str]:
    return write_numbered_lines(directory, FILES, LINES_PER_FILE, mode="w")


def exactly_once_pipeline(tmp_path: Path, sinks: TestSinks, **kafka: Any) -> Path:
    return write_pipeline(
        tmp_path,
        "eo_collect",
        snapshot_interval="500ms",
        sources=[files_source(tmp_path)],
        kafka=sinks.kafka(exactly_once=EXACTLY_ONCE, **kafka),
        elasticsearch=sinks.elasticsearch(),
        batch={"max_records": 2000, "max_latency": "300ms"},
    )


def test_five_sigkills_leave_every_line_exactly_once_in_kafka_and_elasticsearch(
    tmp_path: Path, new_sinks: Callable[..., TestSinks]
) -> None:
    sinks = new_sinks(partitions=3)
    five_sigkills(tmp_path, sinks, exactly_once_pipeline(tmp_path, sinks))


def test_five_sigkills_over_sasl_ssl_with_only_the_collect_acls(
    tmp_path: Path, new_sinks: Callable[..., TestSinks], secured: SecuredCluster
) -> None:
    """The same crashes against the secured broker, the job holding its documented ACLs only
    (the read-back after a crash needs the topic's READ)."""
    plain = new_sinks()
    topic = secured.new_topic(partitions=3)
    user, password = secured.new_user()
    secured.grant(
        producer_acls(f"User:{user}", topic, "logwax-eo_collect-")
        + readback_acls(f"User:{user}", topic)
    )
    broker = replace(plain.servers, kafka_bootstrap=secured.broker.sasl_bootstrap)
    sinks = replace(plain, servers=broker, kafka_config=secured.broker.admin_config(), topic=topic)
    config = exactly_once_pipeline(tmp_path, sinks, security=secured.security(user, password))
    five_sigkills(tmp_path, sinks, config)
    assert password not in (tmp_path / "logwax.log").read_text()


def five_sigkills(tmp_path: Path, sinks: TestSinks, config: Path) -> None:
    expected = write_files(tmp_path / "logs")

    proc, delays = kill_at_random_moments(config, tmp_path, kills=5, seed=20261123)
    sinks.wait_delivered(proc, tmp_path / "logwax.log", len(expected))
    stop_gracefully(proc)

    in_kafka = kafka_messages(sinks.kafka_config, sinks.topic)
    ids_kafka, ids_es = sinks.event_ids()
    lost = len(expected - set(in_kafka))
    duplicated = sum(n - 1 for n in ids_kafka.values())
    print(
        f"kills after {delays}s: kafka lost={lost} duplicated={duplicated}; "
        f"elasticsearch docs={sum(ids_es.values())} unique={len(ids_es)}"
    )
    assert lost == 0 and duplicated == 0
    assert set(in_kafka) == expected
    sinks.assert_exactly_once(len(expected))


def test_crash_between_kafka_commit_and_snapshot_is_not_replayed(
    tmp_path: Path, new_sinks: Callable[..., TestSinks]
) -> None:
    """The process dies right after committing a Kafka transaction, before bytewax stored the
    epoch: the restarted sink must find those records by reading back and not send them again."""
    expected = write_files(tmp_path / "logs")
    sinks = new_sinks(partitions=3)
    config = exactly_once_pipeline(tmp_path, sinks)
    log = tmp_path / "logwax.log"

    for commit in ("4", "2"):
        crash_after_commit(config, tmp_path, commit)
    proc = start(config, tmp_path)
    sinks.wait_delivered(proc, log, len(expected))
    stop_gracefully(proc)

    skipped = log.read_text().count("skipping their replays")
    print(f"restarts that skipped committed replays: {skipped}")
    assert skipped >= 2  # the read-back really found records committed after the snapshot
    sinks.assert_exactly_once(len(expected))
