"""What an operator sees of a running job: /healthz, /readyz with reasons, /metrics, ``logwax
status`` and ``logwax check``, against real brokers."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import Elasticsearch

from devtools.home import free_port
from tests.integration.brokers import Brokers
from tests.integration.flow_runs import es_count, http_get, stop_gracefully, wait_for
from tests.integration.pipelines import es_sink, files_source, kafka_sink, write_pipeline


def pipeline(tmp_path: Path, servers: Brokers, topic: str, prefix: str) -> Path:
    (tmp_path / "logs").mkdir()
    with open(tmp_path / "logs" / "app.log", "w") as out:
        out.writelines(f"line {i}\n" for i in range(20_000))
    return write_pipeline(
        tmp_path,
        "ops",
        sources=[files_source(tmp_path)],
        kafka=kafka_sink(servers, topic),
        elasticsearch=es_sink(servers, prefix, request_timeout="2s"),
    )


def test_health_readiness_metrics_and_status_of_a_running_job(
    tmp_path: Path,
    servers: Brokers,
    es: Elasticsearch,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
) -> None:
    topic, prefix = new_topic(), new_index_prefix()
    config = pipeline(tmp_path, servers, topic, prefix)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "logwax.log"
    command = [
        sys.executable,
        "-m",
        "logwax",
        "--log-format",
        "json",
        "run",
        "-c",
        str(config),
        "--metrics-port",
        str(port),
    ]
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        wait_for("every line", lambda: es_count(es, prefix) >= 20_000, proc, log)
        assert http_get(f"{base}/healthz") == (200, "ok\n")
        wait_for("ready", lambda: http_get(f"{base}/readyz")[0] == 200, proc, log, timeout=30)
        status, metrics = http_get(f"{base}/metrics")
        assert status == 200
        assert 'logwax_source_records_total{source="app"} 20000.0' in metrics
        assert 'logwax_sink_records_total{sink="elasticsearch"} 20000.0' in metrics
        assert "logwax_last_snapshot_timestamp_seconds" in metrics
        assert "logwax_batch_records_bucket" in metrics

        with open(tmp_path / "logs" / "app.log", "a") as out:  # keep it busy for the status
            out.writelines(f"more {i}\n" for i in range(5_000))
        shown = subprocess.run(
            [sys.executable, "-m", "logwax", "status", "--url", base, "--interval", "1", "--once"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "source app" in shown and "sink   elasticsearch" in shown
        assert "records/s" in shown

        servers.freeze("elasticsearch")
        try:
            with open(tmp_path / "logs" / "app.log", "a") as out:
                out.writelines(f"during outage {i}\n" for i in range(100))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                code, body = http_get(f"{base}/readyz")
                if code == 503 and "sink elasticsearch failing" in body:
                    break
                time.sleep(0.5)
            assert code == 503 and "unreachable" in body, body
            assert http_get(f"{base}/healthz")[0] == 200  # alive, just not ready
        finally:
            servers.thaw("elasticsearch")
        wait_for("ready again", lambda: http_get(f"{base}/readyz")[0] == 200, proc, log, timeout=90)
    finally:
        stop_gracefully(proc)
    first = log.read_text().splitlines()[0]
    assert first.startswith("{") and '"level": "INFO"' in first  # JSON logs


def test_check_reports_what_works_and_why_the_rest_does_not(
    tmp_path: Path,
    servers: Brokers,
    new_topic: Callable[..., str],
    new_index_prefix: Callable[[], str],
    kafka_config: dict[str, Any],
) -> None:
    config = pipeline(tmp_path, servers, new_topic(), new_index_prefix())
    good = subprocess.run(
        [sys.executable, "-m", "logwax", "check", "-c", str(config)], capture_output=True, text=True
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ok    source app (files): 1 files match" in good.stdout
    assert "ok    sink kafka:" in good.stdout and "ok    sink elasticsearch:" in good.stdout

    document = yaml.safe_load(config.read_text())
    document["kafka"]["topic"] = "no-such-topic"
    document["elasticsearch"]["hosts"] = [f"http://127.0.0.1:{free_port()}"]
    config.write_text(yaml.safe_dump(document))
    bad = subprocess.run(
        [sys.executable, "-m", "logwax", "check", "-c", str(config)], capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert "FAIL  sink kafka: RuntimeError: topics missing" in bad.stdout
    assert "FAIL  sink elasticsearch: ConnectionError" in bad.stdout
