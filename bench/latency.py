"""End-to-end latency: a line appended to a file → visible to a ``read_committed`` Kafka consumer.

A writer appends lines at a steady rate (10,000 lines/s by default), each carrying the wall-clock
time it was written; ``logwax run`` ships the file with the default settings (snapshot interval,
batch bounds, poll intervals: only the broker, topic and recovery directory are given); a
consumer in its own process (so the writer and it do not share a GIL) reads the topic with
``isolation.level=read_committed`` and notes, per line, when it became visible. The first
``warmup`` seconds are left out (start-up, first scan). Figures: p50/p90/p99/max in ms, and the
sorted latencies thinned to a CDF for the plot.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, KafkaError, TopicPartition

from bench.logwax_runs import launch, stop

RATE, SECONDS, WARMUP = 10_000, 40.0, 5.0
TICK = 0.01  # the writer appends every 10 ms what the rate owes since the start
PAD = "x" * 110  # lines of ~200 bytes, as in the throughput scenarios


def line(seq: int, written_ns: int) -> str:
    return f"t={written_ns} seq={seq} host=bench-{seq % 16} app=api level=INFO msg=GET {PAD}\n"


def write_steadily(path: Path, rate: int, seconds: float) -> int:
    """Append ``rate`` lines/s for ``seconds``; returns how many were written."""
    total = int(rate * seconds)
    started = time.monotonic()
    seq = 0
    with open(path, "a") as out:
        while seq < total:
            owed = min(total, int((time.monotonic() - started) * rate))
            if owed > seq:
                out.write("".join(line(i, time.time_ns()) for i in range(seq, owed)))
                out.flush()
                seq = owed
            time.sleep(TICK)
    return total


def consume(bootstrap: str, topic: str, total: int, timeout: float, ready: Any, out: Any) -> None:
    """Runs in its own process: (seq, visible - written) in ms for each line, first sighting.
    Sets ``ready`` when the prelude line (seq -1) came: logwax is shipping the file."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"latency-{time.monotonic_ns()}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            # A live reader's setting: the broker answers at once when data is there; this
            # bounds how long a fetch may wait on an empty partition.
            "fetch.wait.max.ms": 50,
        }
    )
    partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    seen: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    failure = ""
    try:
        while len(seen) < total + 1 and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.1):
                visible = time.time_ns()
                error, value = message.error(), message.value()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise RuntimeError(str(error))
                text = json.loads(value or b"{}")["message"]
                written, seq = text.split(" ", 2)[:2]
                number = int(seq[4:])
                if number not in seen:
                    seen[number] = (visible - int(written[2:])) / 1e6
                if number < 0:
                    ready.set()
    except Exception as exc:  # the parent waits for an answer either way
        failure = repr(exc)
    finally:
        consumer.close()
    out.put((seen, failure))


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(len(values) * fraction))]


def measure(
    bootstrap: str,
    topic: str,
    exactly_once: bool,
    rate: int = RATE,
    seconds: float = SECONDS,
    warmup: float = WARMUP,
) -> dict[str, Any]:
    """One run of logwax with default settings; latency figures of the lines after ``warmup``."""
    work = Path(tempfile.mkdtemp(prefix="logwax-bench-latency-"))
    log_file = work / "app.log"
    # A prelude line: the file is found by logwax's first scan (a file created later waits for
    # a scan of its own, which is discovery, not shipping latency).
    log_file.write_text(line(-1, time.time_ns()))
    config = work / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "bench_latency",
                "sources": [{"type": "files", "name": "app", "include": [str(log_file)]}],
                "kafka": {
                    "bootstrap_servers": bootstrap,
                    "topic": topic,
                    "exactly_once": exactly_once,
                },
                "recovery": {"directory": str(work / "recovery")},
            }
        )
    )
    total = int(rate * seconds)
    context = multiprocessing.get_context("spawn")
    results, ready = context.Queue(), context.Event()
    reader = context.Process(
        target=consume,
        args=(bootstrap, topic, total, seconds + 120, ready, results),
        daemon=True,
    )
    reader.start()
    procs, log = launch(work, config, "logwax.flows.collect", 1)
    try:
        if not ready.wait(timeout=120) or procs[0].poll() is not None:
            raise RuntimeError(f"logwax did not ship the prelude: {log.read_text()[-2000:]}")
        write_steadily(log_file, rate, seconds)
        seen, failure = results.get(timeout=seconds + 180)
        if failure:
            raise RuntimeError(f"the latency reader failed: {failure}")
    finally:
        stop(procs)
        reader.join(timeout=10)
        if reader.is_alive():
            reader.kill()
        tail = log.read_text()[-2000:] if log.exists() else ""
        shutil.rmtree(work, ignore_errors=True)
    skip = int(rate * warmup)
    latencies = sorted(ms for seq, ms in seen.items() if seq >= skip)
    missing = total - skip - len(latencies)
    if not latencies:
        raise RuntimeError(f"no line became visible: {tail}")
    step = max(1, len(latencies) // 200)
    return {
        "lines": len(latencies),
        "missing": missing,
        "p50_ms": round(statistics.median(latencies), 1),
        "p90_ms": round(percentile(latencies, 0.90), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(latencies[-1], 1),
        "cdf_ms": [round(v, 1) for v in latencies[::step]] + [round(latencies[-1], 1)],
    }
