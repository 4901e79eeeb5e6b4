"""``logwax run`` exits non-zero, with one clear line, when a source's thread keeps dying.

Against the real kube-apiserver: the Events source's ServiceAccount token is revoked (401) and
its token file is gone (a projected volume that is no longer there). A 401 makes the source read
its credentials again, and reading them fails every time: the thread ends, the supervisor
restarts it, it ends again. A 403 or a 401 with a readable file would be retried for as long as
it lasts, with ``/readyz`` 503; here nothing in the process can mend it, so after
``MAX_FAILURES`` ends in a row the process exits 70 and the orchestrator's restart (which
mounts the token again) is the remedy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from elasticsearch import Elasticsearch

from logwax.core.supervisor import EXIT_CODE, MAX_FAILURES
from tests.integration.brokers import Brokers, Cluster
from tests.integration.flow_runs import es_event_ids, start, wait_for
from tests.integration.kube_access import grant, revoke_token, wait_status
from tests.integration.kube_helpers import core_api, create_event
from tests.integration.pipelines import es_sink, events_source, write_pipeline


def test_a_source_thread_that_keeps_dying_exits_the_process_with_a_clear_line(
    tmp_path: Path,
    servers: Brokers,
    kube: Cluster,
    kube_namespace: str,
    es: Elasticsearch,
    new_index_prefix: Callable[[], str],
) -> None:
    access = grant(kube.kubeconfig, kube_namespace, tmp_path)
    prefix = new_index_prefix()
    config = write_pipeline(
        tmp_path,
        "gives_up",
        flow="events",
        sources=[
            events_source(
                str(access.kubeconfig),
                kube_namespace,
                watch_timeout="2s",
                reconnect_backoff_max="2s",
            )
        ],
        elasticsearch=es_sink(servers, prefix, "%Y"),
    )
    core = core_api(kube.kubeconfig)
    for i in range(3):
        create_event(core, kube_namespace, f"before{i}")
    proc = start(config, tmp_path)
    log = tmp_path / "logwax.log"

    def delivered() -> bool:
        es.indices.refresh(index=f"{prefix}-*", allow_no_indices=True)
        return sum(es_event_ids(es, prefix).values()) >= 3

    wait_for("the first Events", delivered, proc, log, timeout=60)
    revoke_token(access)
    wait_status(access, "list", 401)
    access.token_file.unlink()
    gone = time.monotonic()
    try:
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    seconds = time.monotonic() - gone
    text = log.read_text()
    ended = [line for line in text.splitlines() if "thread=events-events ended" in line]
    final = [line for line in text.splitlines() if "times in a row (last:" in line]
    print(f"\nexited {code} {seconds:.1f}s after the token file went; {len(ended)} thread ends")
    assert code == EXIT_CODE, text[-3000:]
    assert len(ended) == MAX_FAILURES, ended
    assert len(final) == 1 and "source=events thread failed 5 times in a row" in final[0], final
    assert "FileNotFoundError" in final[0] and str(access.token_file) in final[0], final
    assert "exiting so the pod is restarted" in final[0]
    assert seconds < 90
