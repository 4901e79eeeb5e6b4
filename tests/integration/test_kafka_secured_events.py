"""The events flow against the secured broker, with exactly the collect/events ACL set: killed
right after its first Kafka commit (the read-back then runs over SASL_SSL with only the
documented READ and group rows), restarted, and every Event version is once in the topic."""

from __future__ import annotations

from pathlib import Path

from logwax.connectors.kafka.transactional import CRASH_AFTER_COMMIT_ENV
from tests.integration.brokers import Cluster
from tests.integration.flow_runs import kafka_event_ids, start, stop_gracefully, wait_delivered
from tests.integration.kube_helpers import core_api, create_event
from tests.integration.pipelines import events_source, write_pipeline
from tests.integration.secured_kafka import SecuredCluster, producer_acls, readback_acls

EVENTS = 200


def test_events_over_sasl_ssl_with_exactly_its_acls_through_a_crash(
    tmp_path: Path, secured: SecuredCluster, kube: Cluster, kube_namespace: str
) -> None:
    core = core_api(kube.kubeconfig)
    for i in range(EVENTS):
        create_event(core, kube_namespace, f"e{i}")
    topic = secured.new_topic(partitions=2)
    user, password = secured.new_user()
    name = "secure_events"
    principal = f"User:{user}"
    secured.grant(
        producer_acls(principal, topic, f"logwax-{name}-") + readback_acls(principal, topic)
    )
    config = write_pipeline(
        tmp_path,
        name,
        snapshot_interval="500ms",
        flow="events",
        sources=[events_source(kube.kubeconfig, kube_namespace)],
        kafka={
            "bootstrap_servers": secured.broker.sasl_bootstrap,
            "topic": topic,
            "exactly_once": True,
            "security": secured.security(user, password),
        },
    )
    log = tmp_path / "logwax.log"
    crashed = start(config, tmp_path, env={CRASH_AFTER_COMMIT_ENV: "1"})
    assert crashed.wait(timeout=120) == -9, log.read_text()[-3000:]

    admin = secured.broker.admin_config()
    proc = start(config, tmp_path)
    wait_delivered(proc, log, EVENTS, kafka_config=admin, topic=topic, timeout=180)
    stop_gracefully(proc, log)
    listed = core.list_namespaced_event(kube_namespace).items
    expected = {f"{e.metadata.uid}:{e.metadata.resource_version}" for e in listed}
    ids = kafka_event_ids(admin, topic)
    assert len(expected) == EVENTS
    assert set(ids) == expected and max(ids.values()) == 1
    text = log.read_text()
    # Nothing refused (the topic's limit is not readable with this set: the broker default
    # is assumed, a warning, not a refusal).
    assert " fix=" not in text and "Traceback" not in text and password not in text
