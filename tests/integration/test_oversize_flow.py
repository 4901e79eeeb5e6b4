"""Oversized lines through the whole collect flow (files → exactly-once Kafka), killed with
SIGKILL right after the Kafka commit of the epoch holding them (before bytewax stored it) and
at random moments, restarted each time; another file ships alongside the whole time. Every
line ends exactly once in the topic or the dead-letter topic, never both, never neither.
And the case users met first: one 1.2 MB line, default settings, at-least-once Kafka."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from logwax.connectors.kafka.transactional import CRASH_AFTER_COMMIT_ENV
from tests.integration.brokers import Brokers
from tests.integration.flow_runs import (
    kafka_event_ids,
    kill_at_random_moments,
    start,
    stop_gracefully,
    wait_for,
)
from tests.integration.kafka_helpers import read_all
from tests.integration.oversize_helpers import LOWERED, lower_limit, wait_split
from tests.integration.pipelines import files_source, kafka_sink, write_pipeline

OTHER_LINES = 30_000
# Lines at 0.99x, 1x, 1.01x, 2x and 10x the lowered topic limit; with its envelope (~300
# bytes of file fields) the 0.99x line still fits, the others go to the dead letters. (On the
# default topic the source's own max_line_bytes, 896 KiB, cuts first: see the 1.2 MB test.)
BIG = {
    50: int(LOWERED * 0.99),
    80: LOWERED,
    100: 2 * LOWERED,
    200: int(LOWERED * 1.01),
    300: 10 * LOWERED,
}
FITTING = {50}


def write_logs(directory: Path) -> None:
    directory.mkdir()
    with open(directory / "big.log", "w") as out:
        for i in range(400):
            out.write(("b" * BIG[i] if i in BIG else f"big.log line {i}") + "\n")
    with open(directory / "other.log", "w") as out:
        for i in range(OTHER_LINES):
            out.write(f"other.log line {i} {'o' * 100}\n")


def pipeline(tmp_path: Path, servers: Brokers, topic: str, dead: str, exactly_once: bool) -> Path:
    """Files → Kafka; with ``dead``, lines up to 4 MiB reach the sink and go there when over."""
    kafka = kafka_sink(servers, topic, exactly_once=exactly_once)
    source = files_source(tmp_path, include=[f"{tmp_path}/logs/*"])
    if dead:
        kafka.update(dead_letter_topic=dead, oversize="dead_letter")
        source["max_line_bytes"] = "4MiB"
    return write_pipeline(
        tmp_path,
        "oversize",
        snapshot_interval="500ms",
        sources=[source],
        kafka=kafka,
        batch={"max_records": 500, "max_latency": "200ms"},
    )


def test_sigkill_after_the_commit_holding_oversized_lines_keeps_each_line_exactly_once(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
) -> None:
    write_logs(tmp_path / "logs")
    topic, dead = new_topic(2), new_topic(1)
    lower_limit(kafka_config, topic)
    config = pipeline(tmp_path, servers, topic, dead, exactly_once=True)
    log = tmp_path / "logwax.log"
    total = 400 + OTHER_LINES

    # Killed by itself right after its first commit: the oversized lines' dead letters and the
    # records around them are committed, bytewax never stored the epoch; all are replayed.
    proc = start(config, tmp_path, env={CRASH_AFTER_COMMIT_ENV: "1"})
    assert proc.wait(timeout=120) == -9, log.read_text()[-3000:]
    after_kill = sum(kafka_event_ids(kafka_config, topic).values())
    # And once more right after the first commit of the restarted run, while it replays.
    proc = start(config, tmp_path, env={CRASH_AFTER_COMMIT_ENV: "1"})
    assert proc.wait(timeout=120) == -9, log.read_text()[-3000:]
    proc, delays = kill_at_random_moments(config, tmp_path, kills=3, seed=2026112821)
    wait_split(proc, log, kafka_config, (topic, dead), total)
    stop_gracefully(proc, log)

    shipped, letters = kafka_event_ids(kafka_config, topic), kafka_event_ids(kafka_config, dead)
    print(f"committed at the first kill: {after_kill}; random kills after {delays} s")
    assert len(letters) == len(BIG) - len(FITTING) and set(letters.values()) == {1}
    assert set(shipped.values()) == {1}, [k for k, n in shipped.items() if n > 1][:5]
    assert len(shipped) + len(letters) == total
    assert not set(shipped) & set(letters)
    reasons = {json.loads(m.value())["reason"] for m in read_all(kafka_config, dead)}
    assert reasons == {"oversize"}
    assert after_kill > 0, "the first kill must fall after a commit"


@pytest.mark.parametrize("exactly_once", [False, True], ids=["at_least_once", "exactly_once"])
def test_one_line_of_1_2_mb_with_default_settings_ships_cut_and_the_rest_flows(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
    exactly_once: bool,
) -> None:
    (tmp_path / "logs").mkdir()
    with open(tmp_path / "logs" / "app.log", "w") as out:
        for i in range(2000):
            out.write(
                ("{" + '"blob":"' + "A" * 1_200_000 + '"}' if i == 1000 else f"line {i}") + "\n"
            )
    topic = new_topic(1)
    config = pipeline(tmp_path, servers, topic, "", exactly_once=exactly_once)
    log = tmp_path / "logwax.log"
    proc = start(config, tmp_path)
    wait_for(
        "2000 lines", lambda: sum(kafka_event_ids(kafka_config, topic).values()) >= 2000, proc, log
    )
    stop_gracefully(proc, log)
    messages = read_all(kafka_config, topic)
    documents = [json.loads(m.value()) for m in messages]
    big = [d for d in documents if d["message"].startswith('{"blob"')]
    print(
        f"records in topic: {len(documents)}; the 1.2 MB line: {len(big[0]['message'])} bytes"
        f" of message, tags {big[0].get('tags')}, wire {max(len(m.value()) for m in messages)}"
    )
    assert len(documents) == 2000 and len(set(kafka_event_ids(kafka_config, topic))) == 2000
    assert len(big) == 1 and "truncated" in big[0]["tags"]
    assert max(len(m.value()) for m in messages) < 1_000_000


def test_a_record_with_nowhere_to_go_stops_the_flow_with_one_line_naming_it(
    tmp_path: Path,
    servers: Brokers,
    kafka_config: dict[str, Any],
    new_topic: Callable[..., str],
) -> None:
    """No dead-letter topic, and a record the broker refuses (its limit lowered after the sink
    read it): the flow must stop, and say which sink, which setting, which record."""
    (tmp_path / "logs").mkdir()
    topic = new_topic(1)
    config = pipeline(tmp_path, servers, topic, "", exactly_once=False)
    log = tmp_path / "logwax.log"
    proc = start(config, tmp_path)
    time.sleep(2)  # the sink partition reads its limits when the flow builds it
    lower_limit(kafka_config, topic, 4096)
    # Random bytes, so that compression cannot bring the record under the broker's limit.
    blob = base64.b64encode(os.urandom(30_000)).decode()
    (tmp_path / "logs" / "app.log").write_text(f"small\n{blob}\n")
    assert proc.wait(timeout=120) == 1
    text = log.read_text()
    stopped = [line for line in text.splitlines() if "stopped:" in line]
    assert len(stopped) == 1, text[-3000:]
    for words in (
        "sink=kafka",
        "setting=kafka.dead_letter_topic",
        "source=app",
        "stream=",
        "event_id=",
        "size=",
    ):
        assert words in stopped[0], stopped[0]
