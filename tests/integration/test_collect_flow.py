"""The collect flow as a user runs it (``logwax run`` in its own process) against real brokers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.flow_runs import (
    es_count,
    es_messages,
    kafka_messages,
    kill_and_restart_until,
    start,
    stop_gracefully,
    wait_for,
)
from tests.integration.pipelines import files_source, write_numbered_lines, write_pipeline
from tests.integration.sinks import TestSinks


def write_logs(directory: Path, files: int, lines: int, tag: str = "") -> set[str]:
    return write_numbered_lines(directory, files, lines, f"file={{f}} line={{i}}{tag} {{pad}}")


def pipeline(tmp_path: Path, sinks: TestSinks) -> Path:
    return write_pipeline(
        tmp_path,
        "collect_test",
        sources=[files_source(tmp_path, scan_interval="1s")],
        kafka=sinks.kafka(),
        elasticsearch=sinks.elasticsearch("%Y.%m.%d"),
    )


def prepared(
    tmp_path: Path, new_sinks: Callable[..., TestSinks], files: int, lines: int, partitions: int
) -> tuple[set[str], TestSinks, Path, Path]:
    """Each test's start: log files written, fresh sinks and the pipeline to them; gives the
    lines written, the sinks, the pipeline file and the log the runs will write."""
    expected = write_logs(tmp_path / "logs", files=files, lines=lines)
    sinks = new_sinks(partitions=partitions)
    return expected, sinks, pipeline(tmp_path, sinks), tmp_path / "logwax.log"


def test_every_line_arrives_once_in_both_sinks_and_sigterm_stops_cleanly(
    tmp_path: Path, new_sinks: Callable[..., TestSinks]
) -> None:
    expected, sinks, config, log = prepared(tmp_path, new_sinks, files=3, lines=2000, partitions=3)
    topic, prefix, kafka_config, es = sinks.topic, sinks.prefix, sinks.kafka_config, sinks.es

    proc = start(config, tmp_path)
    wait_for("all lines in Elasticsearch", lambda: es_count(es, prefix) >= len(expected), proc, log)
    stop_gracefully(proc)

    in_kafka, in_es = kafka_messages(kafka_config, topic), es_messages(es, prefix)
    assert set(in_kafka) == expected and max(in_kafka.values()) == 1
    assert set(in_es) == expected and max(in_es.values()) == 1

    # A second run resumes from its snapshot: only the new lines are shipped.
    more = write_logs(tmp_path / "logs", files=3, lines=100, tag="-second-run")
    proc = start(config, tmp_path)
    total = len(expected) + len(more)
    wait_for("new lines in Elasticsearch", lambda: es_count(es, prefix) >= total, proc, log)
    stop_gracefully(proc)
    in_kafka = kafka_messages(kafka_config, topic)
    assert set(in_kafka) == expected | more and max(in_kafka.values()) == 1
    assert es_count(es, prefix) == total


def test_sigkill_mid_stream_then_restart_loses_nothing(
    tmp_path: Path, new_sinks: Callable[..., TestSinks]
) -> None:
    expected, sinks, config, log = prepared(
        tmp_path, new_sinks, files=4, lines=10_000, partitions=2
    )
    topic, prefix, kafka_config, es = sinks.topic, sinks.prefix, sinks.kafka_config, sinks.es

    proc, at_kill = kill_and_restart_until(
        [2_000, 15_000], lambda: es_count(es, prefix), config, tmp_path
    )
    assert max(at_kill) < len(expected)  # the kills fell mid-stream
    kills = len(at_kill)
    wait_for("every line", lambda: es_count(es, prefix) >= len(expected), proc, log, 240)
    stop_gracefully(proc)

    in_es = es_messages(es, prefix)
    in_kafka = kafka_messages(kafka_config, topic)
    lost_es, lost_kafka = expected - set(in_es), expected - set(in_kafka)
    kafka_total = sum(in_kafka.values())
    print(
        f"after {kills} SIGKILLs: es docs={sum(in_es.values())} kafka records={kafka_total}"
        f" (replayed into kafka: {kafka_total - len(expected)})"
    )
    assert not lost_es and not lost_kafka
    # Elasticsearch is idempotent by _id; Kafka is at-least-once until transactions land.
    assert max(in_es.values()) == 1 and sum(in_es.values()) == len(expected)
