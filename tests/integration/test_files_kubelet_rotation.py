"""``logwax run`` tailing container logs the way the kubelet rotates them: renamed, then gzipped
and the plain file deleted at the next rotation. Every line reaches Elasticsearch once, with
the event id the plain file gives it, when rotations happen while logwax is SIGKILLed and when a
container's log rotates before logwax first sees it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from elasticsearch import Elasticsearch

from tests.integration.brokers import Brokers
from tests.integration.flow_runs import (
    es_count,
    es_event_ids,
    es_messages,
    has_resume_point,
    kill_after_a_snapshot,
    start,
    stop_gracefully,
    wait_for,
)
from tests.integration.kubelet_logs import KubeletContainerLog
from tests.integration.pipelines import es_sink, files_source, write_pipeline


def pipeline(
    tmp_path: Path, servers: Brokers, prefix: str, scan_interval: str, snapshot_interval: str = "1s"
) -> Path:
    source = files_source(
        tmp_path,
        "containers",
        include=[f"{tmp_path}/log/containers/*.log"],
        format="cri",
        scan_interval=scan_interval,
    )
    return write_pipeline(
        tmp_path,
        "kubelet_rotation",
        sources=[source],
        elasticsearch=es_sink(servers, prefix),
        snapshot_interval=snapshot_interval,
    )


def running_container(tmp_path: Path, pod: str, lines: int) -> KubeletContainerLog:
    """A container of namespace ``shop`` that has written ``lines`` and whose
    ``/var/log/containers`` link is there: logwax's first scan finds it."""
    container = KubeletContainerLog(tmp_path / "log", "shop", pod)
    container.write(lines)
    container.expose()
    return container


def assert_once(es: Elasticsearch, prefix: str, expected: list[str]) -> None:
    found = es_messages(es, prefix)
    ids = es_event_ids(es, prefix)
    lost = set(expected) - set(found)
    print(
        f"written={len(expected)} indexed={sum(found.values())} lost={len(lost)} "
        f"duplicated={sum(n - 1 for n in found.values())} first lost={sorted(lost)[:3]}"
    )
    assert not lost and set(found) == set(expected)
    assert max(found.values()) == 1 and sum(found.values()) == len(expected)
    assert max(ids.values()) == 1


def test_lines_rotated_and_gzipped_while_killed_are_shipped_once(
    tmp_path: Path, servers: Brokers, es: Elasticsearch, new_index_prefix: Callable[[], str]
) -> None:
    """Killed mid-file; while down the kubelet rotates twice, so the file logwax was reading
    exists only gzipped, and a whole file it never saw was rotated after it; the live file may
    get the freed inode of the deleted one. Killed again while it finishes them, then a third
    rotation while it runs."""
    prefix = new_index_prefix()
    config = pipeline(tmp_path, servers, prefix, "200ms")
    log = tmp_path / "logwax.log"
    container = running_container(tmp_path, "cart-7d9f", 100_000)
    indexed = lambda: es_count(es, prefix)  # noqa: E731

    kill_after_a_snapshot(config, tmp_path, tmp_path / "recovery", indexed, 15_000)
    at_kill = indexed()
    assert at_kill < 100_000

    container.rotate()  # the file logwax was in: 0.log.<t1>
    container.write(20_000)
    container.rotate()  # 0.log.<t1> gzipped, plain deleted; 0.log.<t2> never seen by logwax
    container.write(20_000)
    print(f"killed at {at_kill} lines; files while down: {container.files()}")

    proc = start(config, tmp_path)
    wait_for("some lines more", lambda: indexed() >= at_kill + 5_000, proc, log, poll=0.05)
    proc.kill()  # in the archive or in the files after it
    proc.wait()
    print(f"killed again at {indexed()} lines")

    proc = start(config, tmp_path)
    wait_for("every line", lambda: indexed() >= len(container.expected), proc, log)
    container.rotate()  # while running: the archive it finished is deleted, the next gzipped
    container.write(5_000)
    wait_for("the lines after", lambda: indexed() >= len(container.expected), proc, log)
    stop_gracefully(proc)
    assert_once(es, prefix, container.expected)


def test_a_container_log_rotated_before_the_first_scan_is_read(
    tmp_path: Path, servers: Brokers, es: Elasticsearch, new_index_prefix: Callable[[], str]
) -> None:
    """A new container writes fast: its log is rotated (twice, so once gzipped) before logwax's
    next scan sees its ``/var/log/containers`` link, which names only the live file."""
    prefix = new_index_prefix()
    config = pipeline(tmp_path, servers, prefix, "10s")
    log = tmp_path / "logwax.log"
    (tmp_path / "log" / "containers").mkdir(parents=True)
    proc = start(config, tmp_path)  # its first scan: nothing there yet

    container = KubeletContainerLog(tmp_path / "log", "shop", "burst-5c4b")
    container.write(10_000)
    container.rotate()
    container.write(10_000)
    container.rotate()
    container.write(1_000)
    container.expose()
    print(f"files before the next scan: {container.files()}")

    wait_for("every line", lambda: es_count(es, prefix) >= len(container.expected), proc, log)
    stop_gracefully(proc)
    assert_once(es, prefix, container.expected)
    assert Counter(n.endswith(".gz") for n in container.files()) == {False: 2, True: 1}


def test_a_file_shipped_after_the_last_snapshot_keeps_its_ids_when_read_from_its_archive(
    tmp_path: Path, servers: Brokers, es: Elasticsearch, new_index_prefix: Callable[[], str]
) -> None:
    """Lines of a file the last snapshot did not know are delivered, then logwax is SIGKILLed;
    by its restart that file exists only gzipped (a new inode) and the next live file may have
    the freed inode of an older one. Read again from the archive, its lines must carry the ids
    they were delivered with (Elasticsearch keeps one document per id; other ids would be
    duplicates), and the file at the reused inode ids of its own."""
    prefix = new_index_prefix()
    config = pipeline(tmp_path, servers, prefix, "200ms", snapshot_interval="30s")
    log, recovery = tmp_path / "logwax.log", tmp_path / "recovery"
    container = running_container(tmp_path, "ping-4f2a", 2_000)
    indexed = lambda: es_count(es, prefix)  # noqa: E731

    proc = start(config, tmp_path)
    wait_for("the first file and a snapshot", lambda: has_resume_point(recovery), proc, log)
    wait_for("the first file", lambda: indexed() >= 2_000, proc, log)
    container.rotate()
    container.write(3_000)  # a file the snapshot does not know
    wait_for("the second file", lambda: indexed() >= 5_000, proc, log, poll=0.05)
    proc.kill()  # before the next snapshot (30 s)
    proc.wait()

    container.rotate()
    container.write(1_000)
    container.rotate()  # the second file now only gzipped, the first deleted
    container.write(1_000)
    print(f"files while down: {container.files()}")

    proc = start(config, tmp_path)
    wait_for("every line", lambda: indexed() >= len(container.expected), proc, log)
    time.sleep(3)  # a re-read under other ids would add documents now
    stop_gracefully(proc)
    assert_once(es, prefix, container.expected)
