"""logwax itself, run as users run it (``logwax run`` / ``python -m bytewax.run``), timed until
every record is in the sink, with the peak memory of its processes."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from bytewax.recovery import init_db_dir
from confluent_kafka import KafkaException
from elasticsearch import Elasticsearch

from devtools.home import free_port
from logwax.connectors.journald import JournaldSource, JournaldSourceConfig
from logwax.connectors.kafka.admin import topic_end_offsets
from logwax.core import gctuning
from logwax.core.record import Record
from logwax.steps.dedup import dedup_mapper

CHECKOUT = Path(__file__).resolve().parents[1]


class Timed(NamedTuple):
    """One run: seconds until every record was in the sink, the peak RSS of its largest
    process, and the CPU seconds its processes (and children they waited for) had used by then."""

    seconds: float
    peak_rss_mb: float
    cpu_seconds: float


def cpu_seconds(pid: int) -> float:
    """User + system time of ``pid`` and of its children it reaped, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # after the command: state is field 3, utime/stime/cutime/cstime are fields 14-17
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def landed(bootstrap: str, topic: str) -> int:
    """Records in ``topic``; 0 while a partition answers that it has no leader yet (a topic
    just created, or created by the peer itself), rather than ending the whole bench."""
    try:
        return sum(topic_end_offsets({"bootstrap.servers": bootstrap}, topic).values())
    except KafkaException:
        return 0


def _wait(
    done: Callable[[], bool],
    procs: list[subprocess.Popen[bytes]],
    log: Path,
    started: float,
    timeout: float = 900,
) -> Timed:
    peak = 0.0
    try:
        while not done():
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"logwax exited {proc.returncode}: {log.read_text()[-2000:]}"
                    )
                peak = max(peak, peak_rss_mb(proc.pid))
            if time.monotonic() - started > timeout:
                raise RuntimeError("benchmark run timed out")
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        cpu = sum(cpu_seconds(proc.pid) for proc in procs)
        for proc in procs:
            peak = max(peak, peak_rss_mb(proc.pid))
    finally:  # a failed run must not leave logwax (and its journalctl) running
        stop(procs)
    return Timed(elapsed, peak, cpu)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()  # SIGTERM: logwax stops its journalctl child too
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def collect_to_kafka(
    bootstrap: str,
    topic: str,
    files: list[Path],
    count: int,
    exactly_once: bool,
    processes: int = 1,
) -> Timed:
    """Seconds until ``count`` records are in ``topic``, and the peak RSS in MB."""
    work = Path(tempfile.mkdtemp(prefix="logwax-bench-"))
    config = work / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "bench_collect",
                "sources": [
                    {"type": "files", "name": f"f{i}", "include": [str(path)], "batch_lines": 2000}
                    for i, path in enumerate(files)
                ],
                "kafka": {
                    "bootstrap_servers": bootstrap,
                    "topic": topic,
                    "exactly_once": exactly_once,
                },
                "dedup": {"enabled": True},
                "batch": {"max_records": 5000},
                "recovery": {
                    "directory": str(work / "recovery"),
                    "snapshot_interval": "5s",
                    "partitions": processes,
                },
            }
        )
    )
    started = time.monotonic()
    procs, log = launch(work, config, "logwax.flows.collect", processes)
    return _wait(lambda: landed(bootstrap, topic) >= count, procs, log, started)


def launch(
    work: Path, config: Path, flow: str, processes: int
) -> tuple[list[subprocess.Popen[bytes]], Path]:
    """One ``logwax run`` process, or a cluster of ``processes`` bytewax processes.

    They import logwax from this checkout (not whichever copy the virtualenv installed), so
    the figures are of the code beside this file."""
    log = work / "log"
    path = os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "LOGWAX_CONFIG": str(config), "PYTHONPATH": path}
    if processes == 1:
        commands = [
            [sys.executable, "-m", "logwax", "--log-level", "WARNING", "run", "-c", str(config)]
        ]
    else:
        (work / "recovery").mkdir()
        init_db_dir(work / "recovery", processes)
        addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(processes))
        commands = [
            [
                sys.executable,
                "-m",
                "bytewax.run",
                f"{flow}:from_env()",
                "-i",
                str(i),
                "-a",
                addresses,
                "-r",
                str(work / "recovery"),
                "-s",
                "5",
                "-b",
                "0",
            ]
            for i in range(processes)
        ]
    with open(log, "ab") as out:
        procs = [
            subprocess.Popen(c, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work)
            for c in commands
        ]
    return procs, log


def journald_to_kafka(bootstrap: str, topic: str, directory: Path, count: int) -> Timed:
    """``logwax run`` of the collect flow from a journal directory: seconds until ``count`` are
    in ``topic`` (journalctl started, every entry converted, deduplicated, batched, delivered)."""
    work = Path(tempfile.mkdtemp(prefix="logwax-bench-"))
    config = work / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "bench_journald",
                "sources": [
                    {
                        "type": "journald",
                        "name": "node",
                        "directory": str(directory),
                        "batch_entries": 2000,
                    }
                ],
                "kafka": {"bootstrap_servers": bootstrap, "topic": topic},
                "dedup": {"enabled": True},
                "batch": {"max_records": 5000},
                "recovery": {"directory": str(work / "recovery"), "snapshot_interval": "5s"},
            }
        )
    )
    started = time.monotonic()
    procs, log = launch(work, config, "logwax.flows.collect", 1)
    try:
        return _wait(lambda: landed(bootstrap, topic) >= count, procs, log, started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def index_to_es(
    bootstrap: str, topic: str, url: str, index: str, count: int, processes: int = 1
) -> Timed:
    work = Path(tempfile.mkdtemp(prefix="logwax-bench-"))
    config = work / "index.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "bench_index",
                "flow": "index",
                # The default batch sizes (1,000, as the raw bulk peer's chunks): 5,000 was no
                # faster (23.0k against 24.1k documents/s) and took 40 MB more at its peak.
                "kafka_input": {
                    "bootstrap_servers": bootstrap,
                    "topics": [topic],
                    "shards": 4 if processes > 1 else 1,
                },
                "elasticsearch": {"hosts": [url], "index": index},
                "recovery": {
                    "directory": str(work / "recovery"),
                    "snapshot_interval": "5s",
                    "partitions": processes,
                },
            }
        )
    )
    es = Elasticsearch(url, request_timeout=60)

    def indexed() -> bool:
        try:
            return int(es.count(index=index)["count"]) >= count
        except Exception:
            return False

    started = time.monotonic()
    procs, log = launch(work, config, "logwax.flows.index", processes)
    return _wait(indexed, procs, log, started)


def journald_read(directory: Path, count: int) -> float:
    """The journald source itself, drained in-process: seconds for ``count`` entries.

    With the garbage-collector settings ``logwax run`` uses, so that this is the source as it
    runs there.
    """
    gctuning.tune()
    source = JournaldSource(
        JournaldSourceConfig(type="journald", name="bench", directory=directory, batch_entries=5000)
    )
    started = time.monotonic()
    part = source.build_part("bench", "bench", None)
    got = 0
    try:
        while got < count:
            batch = part.next_batch()
            got += len(batch)
            if not batch:  # as bytewax does: back when the source asks (bounded here)
                awake = part.next_awake()
                wait = 0.005 if awake is None else (awake - datetime.now(UTC)).total_seconds()
                time.sleep(min(max(wait, 0.0), 0.005))
            if time.monotonic() - started > 300:
                raise RuntimeError(f"journald source read {got} of {count}")
    finally:
        part.close()
    return time.monotonic() - started


def dedup_state_bytes_per_id(ids: int = 1_000_000) -> dict[str, float]:
    """What remembering ``ids`` distinct event ids costs: in memory and in each snapshot."""
    mapper = dedup_mapper("bench", timedelta(hours=1), max_ids=ids)
    tracemalloc.start()
    state: Any = None
    for i in range(ids):
        state, _ = mapper(state, [Record("b", "s", f"3f2a9c0d5e1b7a42:{i * 180}", 0, "", {})])
    memory, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "in_memory": round(memory / ids, 1),
        "pickled": round(len(pickle.dumps(state)) / ids, 1),
    }
