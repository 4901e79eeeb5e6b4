"""Each job against a real broker that demands SASL_SSL (or mutual TLS) and enforces ACLs, with
exactly the ACL set the README documents for it; and what ``logwax check`` says when a
credential, a certificate or an ACL is wrong."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from elasticsearch import Elasticsearch

from tests.integration.brokers import Brokers
from tests.integration.flow_runs import (
    assert_each_once,
    assert_unseen,
    kafka_event_ids,
    launch,
    launch_watched,
    logwax_check,
    served,
    start,
    stop_gracefully,
    wait_delivered,
    wait_for,
)
from tests.integration.pipelines import es_sink, files_source, write_numbered_lines, write_pipeline
from tests.integration.secured_kafka import (
    INDEX_GROUP,
    SecuredCluster,
    consumer_acls,
    group_member_acls,
    producer_acls,
    readback_acls,
)

LINES = 2000


def collect_pipeline(
    tmp_path: Path, secured: SecuredCluster, topic: str, security: dict[str, object], name: str
) -> Path:
    return write_pipeline(
        tmp_path,
        name,
        snapshot_interval="500ms",
        sources=[files_source(tmp_path)],
        kafka={
            "bootstrap_servers": security.pop("bootstrap", secured.broker.sasl_bootstrap),
            "topic": topic,
            "exactly_once": True,
            "security": security,
        },
    )


def index_pipeline(
    directory: Path,
    name: str,
    secured: SecuredCluster,
    topic: str,
    security: dict[str, object],
    servers: Brokers,
    prefix: str,
    group: str | None = None,
) -> Path:
    """The index flow reading ``topic`` from the secured broker over SASL_SSL into indices
    ``<prefix>-*`` of the test's Elasticsearch; a member of consumer ``group`` when given."""
    kafka_input: dict[str, object] = {
        "bootstrap_servers": secured.broker.sasl_bootstrap,
        "topics": [topic],
        "security": security,
    }
    if group is not None:
        kafka_input["consumer_group"] = group
    return write_pipeline(
        directory,
        name,
        flow="index",
        kafka_input=kafka_input,
        elasticsearch=es_sink(servers, prefix),
    )


def run_until_delivered(
    tmp_path: Path, config: Path, secured: SecuredCluster, topic: str, total: int
) -> None:
    proc = start(config, tmp_path)
    log = tmp_path / "logwax.log"
    wait_delivered(
        proc, log, total, kafka_config=secured.broker.admin_config(), topic=topic, timeout=120
    )
    stop_gracefully(proc, log)
    assert_each_once(kafka_event_ids(secured.broker.admin_config(), topic), total)


def test_collect_over_sasl_ssl_with_exactly_its_acls(
    tmp_path: Path, secured: SecuredCluster
) -> None:
    write_numbered_lines(tmp_path / "logs", 2, LINES // 2)
    topic = secured.new_topic(partitions=2)
    user, password = secured.new_user()
    name = "secure_collect"
    secured.grant(
        producer_acls(f"User:{user}", topic, f"logwax-{name}-")
        + readback_acls(f"User:{user}", topic)
    )
    config = collect_pipeline(tmp_path, secured, topic, secured.security(user, password), name)
    run_until_delivered(tmp_path, config, secured, topic, LINES)


def test_collect_over_mutual_tls_with_exactly_its_acls(
    tmp_path: Path, secured: SecuredCluster
) -> None:
    write_numbered_lines(tmp_path / "logs", 1, LINES)
    topic = secured.new_topic()
    principal, name = "collect-mtls", "mtls_collect"
    secured.grant(
        producer_acls(f"User:{principal}", topic, f"logwax-{name}-")
        + readback_acls(f"User:{principal}", topic)
    )
    key_password = tmp_path / "key-password"
    security = {
        **secured.mtls_security(principal, key_password),
        "bootstrap": secured.broker.mtls_bootstrap,
    }
    config = collect_pipeline(tmp_path, secured, topic, security, name)
    run_until_delivered(tmp_path, config, secured, topic, LINES)
    assert key_password.read_text().strip() not in (tmp_path / "logwax.log").read_text()


def fed_topic(tmp_path: Path, secured: SecuredCluster) -> str:
    """A new secured topic holding ``LINES`` numbered lines, shipped by a collect run with
    exactly the producer's ACLs."""
    write_numbered_lines(tmp_path / "logs", 1, LINES)
    topic = secured.new_topic()
    writer, writer_password = secured.new_user()
    secured.grant(
        producer_acls(f"User:{writer}", topic, "logwax-feed-")
        + readback_acls(f"User:{writer}", topic)
    )
    feed = collect_pipeline(
        tmp_path, secured, topic, secured.security(writer, writer_password), "feed"
    )
    run_until_delivered(tmp_path, feed, secured, topic, LINES)
    return topic


@pytest.mark.parametrize("grouped", [False, True], ids=["snapshots", "consumer_group"])
def test_index_over_sasl_ssl_with_exactly_its_acls(
    tmp_path: Path,
    secured: SecuredCluster,
    servers: Brokers,
    new_index_prefix: Callable[[], str],
    es: Elasticsearch,
    grouped: bool,
) -> None:
    """Both modes of the index flow's input, each with exactly the README's rows for it:
    positions in snapshots, or the shipped StatefulSet's consumer group that commits."""
    topic = fed_topic(tmp_path, secured)
    reader, reader_password = secured.new_user()
    principal = f"User:{reader}"
    group = f"logwax-index-{reader}" if grouped else None
    secured.grant(
        group_member_acls(principal, topic, group)
        if group is not None
        else consumer_acls(principal, topic, INDEX_GROUP)
    )
    prefix = new_index_prefix()
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    security = secured.security(reader, reader_password)
    config = index_pipeline(
        index_dir, "secure_index", secured, topic, security, servers, prefix, group=group
    )
    proc = start(config, index_dir)
    log = index_dir / "logwax.log"
    wait_delivered(proc, log, LINES, es=es, prefix=prefix, timeout=120)
    stop_gracefully(proc, log)
    text = log.read_text()
    assert "AUTHORIZATION_FAILED" not in text  # the set is enough, no refusal
    if grouped:
        assert "commit failed" not in text
        assert "(0 records read and not confirmed" in text  # drained and committed at the stop


@pytest.mark.parametrize(
    ("case", "fix", "reason"),
    [
        ("wrong password", "sasl_password", "Authentication failed"),
        ("unknown user", "sasl_username", "Authentication failed"),
        ("wrong CA", "ssl_ca_location", "unable to get local issuer certificate"),
        ("hostname mismatch", "bootstrap_servers", "mismatch"),
        ("no topic ACL", "ACL: the topic", "TOPIC_AUTHORIZATION_FAILED"),
    ],
)
def test_check_names_the_broker_the_setting_and_the_reason(
    tmp_path: Path, secured: SecuredCluster, case: str, fix: str, reason: str
) -> None:
    topic = secured.new_topic()
    user, password = secured.new_user()
    bootstrap = secured.broker.sasl_bootstrap
    security = secured.security(user, password)
    if case == "wrong password":
        security["sasl_password"] = password + "-wrong"
    elif case == "unknown user":
        security["sasl_username"] = "nobody-" + user
    elif case == "wrong CA":
        other = tmp_path / "other-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(other))
        security["ssl_ca_location"] = str(other)
    elif case == "hostname mismatch":
        bootstrap = bootstrap.replace("127.0.0.1", "localhost")  # the cert names 127.0.0.1
    else:
        pass  # a valid user with no ACL at all
    if case != "no topic ACL":
        secured.grant(producer_acls(f"User:{user}", topic, None))
    config = write_pipeline(
        tmp_path,
        "check",
        sources=[files_source(tmp_path)],
        kafka={"bootstrap_servers": bootstrap, "topic": topic, "security": security},
    )
    code, out = logwax_check(config)
    print(out)
    lines = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert code == 1 and len(lines) == 1, out
    assert f"kafka={bootstrap}" in lines[0] and fix in lines[0] and reason in lines[0]
    assert "Traceback" not in out
    assert password not in out and secured.broker.admin_password not in out


def test_collect_waits_out_a_wrong_password_then_a_missing_acl_without_restart(
    tmp_path: Path, secured: SecuredCluster
) -> None:
    """The password file is wrong, then the transactional-id ACL is missing: each is said in
    one line (and on /readyz), attempts back off, and once the operator fixes the file and
    grants the ACL every record arrives exactly once, the job never restarted. No secret shows
    in the DEBUG log, /metrics or /readyz."""
    write_numbered_lines(tmp_path / "logs", 1, LINES)
    topic = secured.new_topic()
    user, password = secured.new_user()
    name = "patient_collect"
    principal = f"User:{user}"
    secured.grant(producer_acls(principal, topic, None) + readback_acls(principal, topic))
    secret = tmp_path / "password"
    wrong = f"wrong-{password[::-1]}"
    secret.write_text(wrong + "\n")
    security = secured.password_file_security(user, secret)
    config = collect_pipeline(tmp_path, secured, topic, security, name)
    proc, log, port = launch_watched(config, tmp_path, "--log-level", "DEBUG")
    outputs: list[str] = []

    credential = "fix=security.sasl_username / security.sasl_password"
    wait_for("the credential refusal", lambda: credential in log.read_text(), proc, log, 90)
    code, why = served(port, "/readyz")
    assert code == 503 and credential in why and "Authentication failed" in why
    outputs += [why, served(port, "/metrics")[1]]
    time.sleep(15)  # further attempts, each refused, must not repeat the line
    assert log.read_text().count(credential) == 1

    secret.write_text(password + "\n")  # the operator fixes the Secret: no restart
    acl = "fix=an ACL: TransactionalId WRITE and DESCRIBE"
    wait_for("the ACL refusal", lambda: acl in log.read_text(), proc, log, 120)
    outputs.append(served(port, "/readyz")[1])
    assert kafka_event_ids(secured.broker.admin_config(), topic) == {}

    secured.grant(producer_acls(principal, topic, f"logwax-{name}-")[2:])  # the two txn ACLs
    wait_delivered(
        proc, log, LINES, kafka_config=secured.broker.admin_config(), topic=topic, timeout=180
    )
    assert proc.poll() is None  # the same process all along
    outputs += [served(port, "/readyz")[1], served(port, "/metrics")[1]]
    stop_gracefully(proc, log)
    assert_each_once(kafka_event_ids(secured.broker.admin_config(), topic), LINES)
    text = log.read_text()
    said = [line for line in text.splitlines() if acl in line]
    assert len(said) == 1 and "Traceback" not in text, said
    outputs.append(text)
    assert_unseen(outputs, password, wrong)


def test_index_waits_out_a_wrong_password_then_a_missing_topic_read(
    tmp_path: Path,
    secured: SecuredCluster,
    servers: Brokers,
    new_index_prefix: Callable[[], str],
    es: Elasticsearch,
) -> None:
    """No silent stall: the wrong password file, then the missing READ, are each one line and
    /readyz's reason; fixing the file and granting READ lets the running job read every record,
    once."""
    topic = secured.new_topic()
    admin = secured.broker.admin_config()
    from confluent_kafka import Producer

    producer = Producer(admin)
    for i in range(LINES):
        producer.produce(topic, value=f'{{"message": "line {i}"}}'.encode(), key=str(i).encode())
    assert producer.flush(30) == 0
    reader, reader_password = secured.new_user()
    principal = f"User:{reader}"
    secured.grant(consumer_acls(principal, topic, INDEX_GROUP)[1:])  # all but topic READ
    prefix = new_index_prefix()
    secret = tmp_path / "password"
    secret.write_text("not-" + reader_password)
    security = secured.password_file_security(reader, secret)
    config = index_pipeline(tmp_path, "acl_index", secured, topic, security, servers, prefix)
    proc, log, port = launch_watched(config, tmp_path)
    credential = "fix=security.sasl_username / security.sasl_password"
    wait_for("the credential refusal", lambda: credential in log.read_text(), proc, log, 60)
    assert credential in served(port, "/readyz")[1]
    secret.write_text(reader_password)  # the operator fixes the Secret file
    fix = "fix=an ACL: the topic (WRITE/READ and DESCRIBE) reason="
    wait_for("the ACL refusal", lambda: fix in log.read_text(), proc, log, timeout=120)
    code, why = served(port, "/readyz")
    assert code == 503 and fix in why and "Topic authorization failed" in why
    time.sleep(5)
    secured.grant(consumer_acls(principal, topic, INDEX_GROUP)[:1])  # the operator grants READ
    wait_delivered(proc, log, LINES, es=es, prefix=prefix, timeout=120)
    stop_gracefully(proc, log)
    text = log.read_text()
    said = [line for line in text.splitlines() if fix in line]
    assert len(said) == 1 and "Traceback" not in text and reader_password not in text, said
    assert text.count(credential) == 1


def test_at_least_once_collect_waits_out_a_missing_write_acl(
    tmp_path: Path, secured: SecuredCluster
) -> None:
    """The at-least-once sink's records are refused (no topic WRITE): one line, the job keeps
    running and retrying (a stopped job would be refused again after every restart), and once
    the operator grants WRITE every record arrives, once, in the same process."""
    write_numbered_lines(tmp_path / "logs", 1, LINES)
    topic = secured.new_topic()
    user, password = secured.new_user()
    write, describe = producer_acls(f"User:{user}", topic, None)
    secured.grant([describe])
    config = write_pipeline(
        tmp_path,
        "alo_collect",
        snapshot_interval="500ms",
        sources=[files_source(tmp_path)],
        kafka={
            "bootstrap_servers": secured.broker.sasl_bootstrap,
            "topic": topic,
            "security": secured.security(user, password),
        },
    )
    proc = launch(config, tmp_path)
    log = tmp_path / "logwax.log"
    admin = secured.broker.admin_config()
    # With no WRITE on any topic the idempotent producer is refused its producer id first.
    fix = "fix=an ACL: the topic's WRITE (before Kafka 3.0: cluster IDEMPOTENT_WRITE)"
    wait_for("the ACL refusal", lambda: fix in log.read_text(), proc, log, 120)
    time.sleep(12)  # refused again at least once meanwhile: neither a stop nor a second line
    assert proc.poll() is None and kafka_event_ids(admin, topic) == {}

    secured.grant([write])
    wait_delivered(proc, log, LINES, kafka_config=admin, topic=topic, timeout=180)
    stop_gracefully(proc, log)
    assert_each_once(kafka_event_ids(admin, topic), LINES)
    text = log.read_text()
    assert text.count(fix) == 1 and "Traceback" not in text and password not in text
