"""A refused credential, certificate or ACL becomes one line naming the broker, the setting to
fix and the server's words; repeats are held back."""

from __future__ import annotations

import logging

import pytest

from logwax.connectors.kafka import diagnosis

SASL_LOG = (
    "FAIL [rdkafka#producer-1] [thrd:sasl_ssl://b:9093/bootstrap]: sasl_ssl://b:9093/bootstrap: "
    "SASL authentication error: Authentication failed during authentication due to invalid "
    "credentials with SASL mechanism SCRAM-SHA-512 (after 312ms in state AUTH_REQ)"
)


@pytest.mark.parametrize(
    ("reason", "line"),
    [
        (
            SASL_LOG,
            "kafka=b:9093 fix=security.sasl_username / security.sasl_password reason=SASL "
            "authentication error: Authentication failed during authentication due to invalid "
            "credentials with SASL mechanism SCRAM-SHA-512",
        ),
        (
            "TRANSACTIONAL_ID_AUTHORIZATION_FAILED: Transactional Id authorization failed",
            "kafka=b:9093 fix=an ACL: TransactionalId WRITE and DESCRIBE "
            "reason=Transactional Id authorization failed",
        ),
        (
            "TOPIC_AUTHORIZATION_FAILED (topic logs, principal User:collect)",
            "kafka=b:9093 fix=an ACL: the topic (WRITE/READ and DESCRIBE) "
            "reason=TOPIC_AUTHORIZATION_FAILED (topic logs, principal User:collect)",
        ),
        (
            "GROUP_AUTHORIZATION_FAILED: FindCoordinator response error: "
            "Group authorization failed.",
            "kafka=b:9093 fix=an ACL: group DESCRIBE (logwax-index, or logwax-readback-* for "
            "the read-back) "
            "reason=FindCoordinator response error: Group authorization failed.",
        ),
    ],
)
def test_a_refusal_is_one_line_with_the_setting_and_the_servers_words(
    reason: str, line: str
) -> None:
    assert diagnosis.explain("b:9093", reason) == line


def test_a_broker_outage_is_not_a_refusal() -> None:
    assert (
        diagnosis.setting_for("Connect to ipv4#127.0.0.1:9092 failed: Connection refused") is None
    )


def test_the_same_refusal_worded_three_ways_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    bootstrap = "dedup-test:9093"
    with caplog.at_level(logging.ERROR, logger="logwax.kafka"):
        diagnosis.record(bootstrap, SASL_LOG)
        diagnosis.record(bootstrap, "_AUTHENTICATION: " + SASL_LOG.split("bootstrap: ", 2)[-1])
        diagnosis.record(bootstrap, SASL_LOG)
    said = [r.getMessage() for r in caplog.records if bootstrap in r.getMessage()]
    assert len(said) == 1
    assert diagnosis.last_reason(bootstrap) == said[0]
    diagnosis.cleared(bootstrap)
    assert diagnosis.last_reason(bootstrap) is None


def test_waits_are_a_few_a_minute_with_jitter() -> None:
    waits = [diagnosis.wait_seconds(attempt) for attempt in range(1, 10)]
    assert 4.0 <= waits[0] <= 6.0 and all(w <= 72.0 for w in waits)
    assert len({round(w, 3) for w in waits[5:]}) > 1  # jitter: capped waits still differ


def test_a_delivery_report_is_a_refusal_only_for_an_acl_or_while_the_broker_refuses() -> None:
    """The at-least-once sink waits out what this says is a refusal and stops on the rest."""
    from confluent_kafka import KafkaError

    bootstrap = "reports-test:9093"
    timed_out = KafkaError(KafkaError._MSG_TIMED_OUT)
    assert diagnosis.refusal(bootstrap, timed_out) is None  # an outage: not waited out here
    assert diagnosis.refusal(bootstrap, KafkaError(KafkaError.INVALID_RECORD)) is None
    line = diagnosis.refusal(bootstrap, KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    assert line is not None and "fix=an ACL: the topic" in line
    assert diagnosis.refusal(bootstrap, timed_out) == line  # queued behind the refusal
    diagnosis.cleared(bootstrap)
    assert diagnosis.refusal(bootstrap, timed_out) is None
