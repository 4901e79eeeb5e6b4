"""The baselines logwax is measured against, each on the same lines, broker and settings."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from elasticsearch import Elasticsearch, helpers

from bench.logwax_runs import Timed, cpu_seconds, landed, peak_rss_mb
from logwax.core.record import Record

RSYSLOGD = "/usr/sbin/rsyslogd"


def raw_kafka(bootstrap: str, topic: str, lines: Path, producer_config: dict[str, Any]) -> float:
    """Plain confluent-kafka: read the file, produce every line, flush; seconds taken."""
    producer = Producer({**producer_config, "bootstrap.servers": bootstrap})
    started = time.monotonic()
    with open(lines, "rb") as handle:
        for line in handle:
            while True:
                try:
                    producer.produce(topic, line.rstrip(b"\n"))
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("raw producer left records undelivered")
    return time.monotonic() - started


def documents(lines: Path, index: str) -> Iterator[dict[str, Any]]:
    with open(lines, encoding="utf-8") as handle:
        for offset, line in enumerate(handle):
            record = Record("bench", "s", f"bench:{offset}", time.time_ns(), line.rstrip("\n"), {})
            yield {
                "_op_type": "create",
                "_index": index,
                "_id": record.event_id,
                "_source": record.to_document(),
            }


def raw_es_bulk(url: str, index: str, lines: Path) -> float:
    """``helpers.streaming_bulk`` of the same documents; seconds until all are searchable.

    The same end point as logwax's run, which is timed until the index counts every document:
    a document is counted only after the index's next refresh (every second by default), so
    timing the peer to its last response left that wait (0.5 s on average) on logwax's side
    alone."""
    client = Elasticsearch(url, request_timeout=120)
    started = time.monotonic()
    sent = 0
    for ok, item in helpers.streaming_bulk(
        client, documents(lines, index), chunk_size=1000, raise_on_error=False
    ):
        if not ok:
            raise RuntimeError(f"bulk refused: {item}")
        sent += 1
    deadline = time.monotonic() + 120
    while int(client.count(index=index)["count"]) < sent:
        if time.monotonic() > deadline:
            raise RuntimeError(f"raw bulk: {sent} documents sent, not all searchable in 120 s")
        time.sleep(0.2)  # as logwax's run is polled
    return time.monotonic() - started


def rsyslog_available() -> bool:
    return Path(RSYSLOGD).exists() and Path("/usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so").exists()


RSYSLOG_CONF = """
global(workDirectory="{work}")
module(load="imfile")
module(load="omkafka")
template(name="line" type="string" string="%msg%")
input(type="imfile" File="{lines}" Tag="bench" freshStartTail="off" readMode="0"
      ruleset="tokafka" MaxLinesAtOnce="0")
ruleset(name="tokafka" queue.type="LinkedList" queue.size="200000"
        queue.dequeueBatchSize="4096") {{
  action(type="omkafka" broker=["{broker}"] topic="{topic}" template="line"
         confParam=["compression.codec=lz4", "queue.buffering.max.ms=20",
                    "request.required.acks=-1", "queue.buffering.max.messages=1000000"])
}}
"""


def rsyslog_to_kafka(bootstrap: str, topic: str, lines: Path, count: int) -> Timed:
    """rsyslog imfile → omkafka on the same file and broker: seconds until all ``count`` land,
    with rsyslogd's peak RSS and CPU seconds by then (it runs in the foreground, one process)."""
    work = Path(tempfile.mkdtemp(prefix="rsyslog-bench-"))
    conf = work / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=work, lines=lines, broker=bootstrap, topic=topic))
    started = time.monotonic()
    with open(work / "log", "wb") as errors:
        proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(conf), "-i", str(work / "pid")],
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    try:
        deadline = started + 600
        while landed(bootstrap, topic) < count:
            if proc.poll() is not None:
                raise RuntimeError(f"rsyslogd exited: {(work / 'log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("rsyslog did not deliver every line in 600s")
            time.sleep(0.2)
        return Timed(time.monotonic() - started, peak_rss_mb(proc.pid), cpu_seconds(proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def journalctl_json(directory: Path) -> float:
    """``journalctl -o json > /dev/null`` over the journal: seconds taken."""
    started = time.monotonic()
    subprocess.run(
        ["journalctl", f"--directory={directory}", "-o", "json", "--no-pager"],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.monotonic() - started


def dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
