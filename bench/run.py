"""``make bench``: logwax against the raw clients and rsyslog, in one run on one machine.

Every figure is the median of ``--runs`` runs (min and max kept), and every ratio is the median of
the per-run ratios, so machine noise cancels in the comparison. Writes
``bench/results/latest.json`` and ``latest.png`` and prints a table.
Reproduce with: ``make bench`` (or ``.venv/bin/python -m bench.run --runs 3 --lines 1000000``);
one group of scenarios alone with ``make bench BENCH_ARGS='--only journald'``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from elasticsearch import Elasticsearch

import devtools
from bench import latency, logwax_runs, peers
from logwax.connectors.kafka.admin import delete_topics, ensure_topic

RESULTS = Path(__file__).parent / "results"
# Scenario groups --only can pick: files and Kafka/Elasticsearch peers, the journald ones, and
# end-to-end latency (file append → visible to a read_committed consumer).
SCENARIOS = frozenset({"files", "journald", "latency"})
LATENCY_MODES = {"at_least_once": False, "exactly_once": True}
PRODUCER = {"acks": "all", "enable.idempotence": True, "compression.type": "lz4", "linger.ms": 20}


def warm_transactions(kafka: dict[str, str]) -> None:
    """Has a new broker create its transaction-state topic before anything is timed. The first
    transactional producer a broker ever sees waits for it (``init_transactions`` 1.2 s
    against 0.15 s after, measured), and in a fresh bench that fell on the first exactly-once
    run alone (its ratio 0.69 against 0.81 and 0.80 in the next two); a broker in use has had
    the topic since its first transactional client."""
    producer = Producer({**kafka, "transactional.id": f"logwax-bench-warm-{uuid.uuid4().hex[:8]}"})
    producer.init_transactions(60)
    producer.begin_transaction()
    producer.commit_transaction(60)


def write_lines(path: Path, count: int, start: int = 0) -> None:
    with open(path, "w") as out:
        for i in range(start, start + count):
            out.write(
                f"2026-11-23T00:00:00Z host=bench-{i % 16} app=api level=INFO seq={i} "
                f'msg="GET /v1/items/{i} 200" latency_ms={i % 997} '
                f"{'x' * 90}\n"
            )


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


class Bench:
    def __init__(self, lines: int, runs: int, only: frozenset[str] = SCENARIOS) -> None:
        self.lines, self.runs, self.only = lines, runs, only
        self.endpoints = devtools.up(log=lambda line: print(f"[servers] {line}"))
        self.kafka = {"bootstrap.servers": self.endpoints.kafka_bootstrap}
        warm_transactions(self.kafka)
        self.work = Path(tempfile.mkdtemp(prefix="logwax-bench-data-"))
        self.file = self.work / "lines.log"
        half = lines // 2
        self.halves = [self.work / "half0.log", self.work / "half1.log"]
        if "files" in only:
            write_lines(self.file, lines)
            write_lines(self.halves[0], half)
            write_lines(self.halves[1], lines - half, start=half)
        self.topics: list[str] = []
        self.rates: dict[str, list[float]] = {}
        self.rss: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}
        self.latencies: dict[str, list[dict[str, Any]]] = {}

    def topic(self) -> str:
        name = f"bench-{time.monotonic_ns()}"
        ensure_topic(self.kafka, name, partitions=3)
        return name

    def record(
        self,
        name: str,
        seconds: float,
        rss: float | None = None,
        count: int | None = None,
        cpu: float | None = None,
    ) -> float:
        records = count or self.lines
        rate = records / seconds
        self.rates.setdefault(name, []).append(rate)
        if rss is not None:
            self.rss.setdefault(name, []).append(rss)
        if cpu is not None:  # the per-core figure: CPU seconds per million records
            self.cpu.setdefault(name, []).append(cpu * 1_000_000 / records)
        print(
            f"  {name:32s} {rate:12,.0f} records/s"
            + (f"  peak {rss:.0f} MB" if rss else "")
            + (f"  {cpu * 1_000_000 / records:.1f} CPU s per million" if cpu else ""),
            flush=True,
        )
        return rate

    def timed(self, name: str, timed: logwax_runs.Timed, count: int | None = None) -> float:
        return self.record(name, timed.seconds, timed.peak_rss_mb, count, timed.cpu_seconds)

    def measured(
        self,
        name: str,
        run: Callable[[str], logwax_runs.Timed | float],
        count: int | None = None,
    ) -> float:
        """Time ``run`` on a topic of its own (deleted afterwards unless it is kept)."""
        topic = self.topic()
        self.topics.append(topic)
        result = run(topic)
        if isinstance(result, logwax_runs.Timed):
            return self.timed(name, result, count)
        return self.record(name, result, count=count)

    def one_run(self, number: int, journal: Path, journal_entries: int) -> dict[str, float]:
        print(f"run {number + 1}/{self.runs}", flush=True)
        self.topics = []
        ratios: dict[str, float] = {}
        if "files" in self.only:
            ratios |= self.files_and_es()
        if "journald" in self.only:
            ratios |= self.journald(journal, journal_entries)
        if "latency" in self.only:
            self.latency()
        delete_topics(self.kafka, self.topics)
        return ratios

    def latency(self) -> None:
        """Append → visible at 10,000 lines/s, logwax with default settings, both guarantees."""
        for mode, exactly_once in LATENCY_MODES.items():
            topic = self.topic()
            self.topics.append(topic)
            figures = latency.measure(self.endpoints.kafka_bootstrap, topic, exactly_once)
            self.latencies.setdefault(mode, []).append(figures)
            print(
                f"  latency {mode:24s} p50 {figures['p50_ms']:8.0f} ms  p99 "
                f"{figures['p99_ms']:8.0f} ms  max {figures['max_ms']:8.0f} ms "
                f"({figures['lines']:,} lines, {figures['missing']} not seen)",
                flush=True,
            )

    def latency_summary(self) -> dict[str, Any]:
        """Per mode: the median run's figures (by p99) with its CDF, and every run's p50/p99."""
        out: dict[str, Any] = {}
        for mode, runs in self.latencies.items():
            ranked = sorted(runs, key=lambda r: r["p99_ms"])
            out[mode] = {
                **ranked[len(ranked) // 2],
                "p50_ms_runs": [r["p50_ms"] for r in runs],
                "p99_ms_runs": [r["p99_ms"] for r in runs],
            }
        return out

    def journald(self, journal: Path, entries: int) -> dict[str, float]:
        """The source alone in-process, and the collect flow journald → Kafka end to end, each
        against ``journalctl -o json > /dev/null`` on the same journal."""
        bootstrap = self.endpoints.kafka_bootstrap
        journalctl = self.record("journalctl_json", peers.journalctl_json(journal), count=entries)
        read = self.record(
            "journald_read", logwax_runs.journald_read(journal, entries), count=entries
        )
        to_kafka = self.measured(
            "journald_to_kafka",
            lambda t: logwax_runs.journald_to_kafka(bootstrap, t, journal, entries),
            count=entries,
        )
        return {
            "journald_read_vs_journalctl_json": read / journalctl,
            "journald_to_kafka_vs_journalctl_json": to_kafka / journalctl,
        }

    def files_and_es(self) -> dict[str, float]:
        bootstrap, url = self.endpoints.kafka_bootstrap, self.endpoints.elasticsearch_url
        measured = self.measured
        ratios: dict[str, float] = {}
        raw = measured("raw_kafka", lambda t: peers.raw_kafka(bootstrap, t, self.file, PRODUCER))
        kept: list[str] = []

        def logwax_collect(topic: str) -> logwax_runs.Timed:
            kept.append(topic)
            return logwax_runs.collect_to_kafka(bootstrap, topic, [self.file], self.lines, False)

        at_least_once = measured("file_to_kafka", logwax_collect)
        exactly_once = measured(
            "file_to_kafka_exactly_once",
            lambda t: logwax_runs.collect_to_kafka(bootstrap, t, [self.file], self.lines, True),
        )

        def logwax_collect_2(topic: str) -> logwax_runs.Timed:
            kept.append(topic)  # two files, two streams: what the index flow's 2 processes read
            return logwax_runs.collect_to_kafka(
                bootstrap, topic, self.halves, self.lines, False, processes=2
            )

        measured("file_to_kafka_2_processes", logwax_collect_2)
        ratios["file_to_kafka_vs_raw_kafka"] = at_least_once / raw
        ratios["exactly_once_vs_at_least_once"] = exactly_once / at_least_once
        if peers.rsyslog_available():
            rsyslog = measured(
                "rsyslog_to_kafka",
                lambda t: peers.rsyslog_to_kafka(bootstrap, t, self.file, self.lines),
            )
            ratios["file_to_kafka_vs_rsyslog"] = at_least_once / rsyslog

        es = Elasticsearch(url, request_timeout=120)
        index = f"bench-{time.monotonic_ns()}"
        to_es = self.timed(
            "kafka_to_es", logwax_runs.index_to_es(bootstrap, kept[0], url, index, self.lines)
        )
        es.indices.delete(index=index)
        index = f"bench-{time.monotonic_ns()}"
        self.timed(
            "kafka_to_es_2_processes",
            logwax_runs.index_to_es(bootstrap, kept[1], url, index, self.lines, processes=2),
        )
        es.indices.delete(index=index)
        raw_index = f"bench-raw-{time.monotonic_ns()}"
        raw_es = self.record("raw_es_bulk", peers.raw_es_bulk(url, raw_index, self.file))
        es.indices.delete(index=raw_index)
        ratios["kafka_to_es_vs_raw_es_bulk"] = to_es / raw_es
        return ratios


def machine_facts() -> dict[str, Any]:
    from importlib import metadata

    import confluent_kafka
    import elasticsearch

    from devtools.elasticsearch import ES_VERSION
    from devtools.kafka import KAFKA_VERSION
    from logwax.core import native

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "load_average_1_5_15_min": [round(x, 2) for x in os.getloadavg()],
        "machine": platform.machine(),
        "python": platform.python_version(),
        "bytewax": metadata.version("bytewax"),
        "confluent_kafka": metadata.version("confluent-kafka"),
        "librdkafka": confluent_kafka.libversion()[0],
        "elasticsearch_client": elasticsearch.__versionstr__,
        "kafka": KAFKA_VERSION,
        "elasticsearch": ES_VERSION,
        "git_commit": commit,
        "hot_path": native.describe(),  # the logwax processes inherit LOGWAX_NATIVE
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def make_journal(directory: Path, entries: int) -> None:
    from tests.integration.journal_files import append_entries

    append_entries(directory / "system.journal", 0, entries)


def plot(result: dict[str, Any], path: Path) -> None:
    """Throughput bars and, when measured, the latency CDF beside them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [key for key in ("throughput", "latency") if result.get(key)]
    figure, axes = plt.subplots(1, len(panels), figsize=(10 * len(panels), 5), squeeze=False)
    for axis, panel in zip(axes[0], panels, strict=True):
        (plot_throughput if panel == "throughput" else plot_latency)(result, axis)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def plot_latency(result: dict[str, Any], axis: Any) -> None:
    for mode, figures in result["latency"].items():
        values = figures["cdf_ms"]
        fractions = [i / (len(values) - 1) for i in range(len(values))]
        label = f"{mode}: p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms"
        axis.plot([v / 1000 for v in values], fractions, label=label)
    axis.axhline(0.99, color="#bbbbbb", linewidth=0.8)
    axis.set_xlabel("seconds from file append to visible (read_committed consumer)")
    axis.set_ylabel("fraction of lines")
    axis.set_title(
        f"logwax latency at {latency.RATE:,} lines/s, default settings, commit "
        f"{result['machine']['git_commit']}"
    )
    axis.legend(loc="lower right")


def plot_throughput(result: dict[str, Any], axis: Any) -> None:
    names = list(result["throughput"])
    medians = [result["throughput"][n]["median"] for n in names]
    lows = [m - result["throughput"][n]["min"] for n, m in zip(names, medians, strict=True)]
    highs = [result["throughput"][n]["max"] - m for n, m in zip(names, medians, strict=True)]
    colours = [
        "#888888" if n.startswith(("raw", "rsyslog", "journalctl")) else "#2a7ab0" for n in names
    ]
    axis.barh(names, medians, xerr=[lows, highs], color=colours)
    axis.set_xlabel("records/s (median, min-max whiskers)")
    facts = result["machine"]
    axis.set_title(
        f"logwax (blue) vs raw clients and rsyslog (grey): {result['lines']:,} lines, "
        f"{facts['cores']} cores, commit {facts['git_commit']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    # As many entries as the file scenarios have lines: logwax run's start-up (~1.4 s here)
    # is then a small part of the end-to-end time, as it is for a shipper that keeps running.
    parser.add_argument("--journal-entries", type=int, default=1_000_000)
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SCENARIOS),
        help="run only this group of scenarios (repeatable); the results then go to "
        "latest-<groups>.json and the full run's latest.json is left alone",
    )
    args = parser.parse_args()
    only = frozenset(args.only or SCENARIOS)
    started = time.monotonic()
    bench = Bench(args.lines, args.runs, only)
    journal = bench.work / "journal"
    if "journald" in only:
        make_journal(journal, args.journal_entries)
    ratio_runs: dict[str, list[float]] = {}
    for number in range(args.runs):
        for key, value in bench.one_run(number, journal, args.journal_entries).items():
            ratio_runs.setdefault(key, []).append(value)
    result: dict[str, Any] = {
        "lines": args.lines,
        "runs": args.runs,
        "line_bytes": len(bench.file.read_bytes()) // args.lines if "files" in only else None,
        "journal_entries": args.journal_entries if "journald" in only else None,
        "throughput": {k: summary(v) for k, v in bench.rates.items()},
        "ratios": {k: round(statistics.median(v), 3) for k, v in ratio_runs.items()},
        "peak_rss_mb": {k: summary(v) for k, v in bench.rss.items()},
        # CPU seconds (user + system, every thread) per million records, start-up included
        "cpu_seconds_per_million": {k: summary(v) for k, v in bench.cpu.items()},
        "latency": bench.latency_summary(),
        "latency_scenario": (
            f"lines with their write time appended at {latency.RATE:,}/s for "
            f"{latency.SECONDS:.0f} s (first {latency.WARMUP:.0f} s left out) to a file "
            "logwax ships with default settings; a read_committed consumer notes when each "
            "became visible"
        )
        if bench.latencies
        else None,
        "dedup_state_bytes_per_id": logwax_runs.dedup_state_bytes_per_id(),
        "machine": machine_facts(),
        "seconds": round(time.monotonic() - started),
        "command": "make bench"
        + (f" BENCH_ARGS='{' '.join(f'--only {g}' for g in sorted(only))}'" if args.only else ""),
    }
    for key in (
        "file_to_kafka",
        "raw_kafka",
        "rsyslog_to_kafka",
        "kafka_to_es",
        "raw_es_bulk",
        "journald_read",
        "journald_to_kafka",
        "journalctl_json",
    ):
        result[key] = result["throughput"].get(key)
    RESULTS.mkdir(exist_ok=True)
    stem = "latest" if only == SCENARIOS else "latest-" + "-".join(sorted(only))
    peers.dump(RESULTS / f"{stem}.json", result)
    plot(result, RESULTS / f"{stem}.png")
    print(f"\n{'measure':32s} {'median/s':>12s} {'min':>12s} {'max':>12s}")
    for name, figures in result["throughput"].items():
        print(
            f"{name:32s} {figures['median']:12,.0f} {figures['min']:12,.0f} {figures['max']:12,.0f}"
        )
    for mode, figures in result["latency"].items():
        print(
            f"latency {mode}: p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms "
            f"(runs: p99 {figures['p99_ms_runs']})"
        )
    print("ratios:", result["ratios"])
    print("peak RSS MB:", {k: v["median"] for k, v in result["peak_rss_mb"].items()})
    print("dedup state bytes per id:", result["dedup_state_bytes_per_id"])
    print(f"on {result['machine']}; {result['seconds']}s; wrote {RESULTS}/{stem}.json and .png")
    shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    main()
