"""Kafka failures an operator must fix (credentials, certificates, ACLs), said once and plainly.

librdkafka retries a refused connection every few hundred milliseconds and logs every attempt,
and the exception a caller finally sees says only "Broker transport failure". Here each client's
errors arrive through ``error_cb`` and its log lines through one logger: the first time a reason
appears it becomes one line naming the broker, the setting to fix and the server's own words;
repeats of the same line are held back for a minute. The latest reason per broker is kept so
``logwax check``, /readyz and the error a job stops with can say it too.
"""

from __future__ import annotations

import logging
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException

from logwax.core import observability
from logwax.core.errors import LogwaxError

log = logging.getLogger("logwax.kafka")
REPEAT_SECONDS = 60.0
GIVE_UP_AFTER_S = 3600.0
T = TypeVar("T")

# An idempotent producer needs WRITE on some topic (Kafka 3.0+) or cluster IDEMPOTENT_WRITE;
# refused, its producer-id request says "cluster authorization failed".
_IDEMPOTENT = "an ACL: the topic's WRITE (before Kafka 3.0: cluster IDEMPOTENT_WRITE)"
_GROUP = "an ACL: group DESCRIBE (logwax-index, or logwax-readback-* for the read-back)"
# librdkafka's words → the setting an operator changes.
_SETTINGS = (
    ("SASL authentication error", "security.sasl_username / security.sasl_password"),
    ("Authentication failed", "security.sasl_username / security.sasl_password"),
    ("certificate verify failed", "security.ssl_ca_location or bootstrap_servers"),
    ("SSL handshake failed", "security.ssl_ca_location / ssl_certificate_location"),
    ("TOPIC_AUTHORIZATION_FAILED", "an ACL: the topic (WRITE/READ and DESCRIBE)"),
    ("Topic authorization failed", "an ACL: the topic (WRITE/READ and DESCRIBE)"),
    ("TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "an ACL: TransactionalId WRITE and DESCRIBE"),
    ("Transactional Id authorization failed", "an ACL: TransactionalId WRITE and DESCRIBE"),
    ("GROUP_AUTHORIZATION_FAILED", _GROUP),
    ("Group authorization failed", _GROUP),
    ("CLUSTER_AUTHORIZATION_FAILED", _IDEMPOTENT),
    ("Cluster authorization failed", _IDEMPOTENT),
)

_lock = threading.Lock()
_last_said: dict[str, float] = {}
_reasons: dict[str, str] = {}


def setting_for(reason: str) -> str | None:
    """The setting behind a security failure, or None when the reason is not one."""
    for words, setting in _SETTINGS:
        if words.lower() in reason.lower():
            return setting
    return None


def tls_detail(bootstrap: str, ca_file: str | None) -> str | None:
    """Why the broker's certificate is refused, in OpenSSL's exact words (wrong CA, expired,
    hostname mismatch): librdkafka only says "certificate verify failed"."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with (
            socket.create_connection((host, int(port)), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as exc:
        return str(exc.verify_message)
    except (OSError, ValueError):
        return None


# "FAIL [rdkafka#producer-1] [thrd:sasl_ssl://h:p/bootstrap]: sasl_ssl://h:p/bootstrap: " and
# "_AUTHENTICATION: sasl_ssl://h:p/bootstrap: " say who failed, which the line says already.
_PREFIX = re.compile(r"^(\w+ \[[^\]]*\] \[thrd:[^\]]*\]: |_?[A-Z_]+: )?([a-z_]+://\S+: )?")


def _server_words(reason: str) -> str:
    reason = _PREFIX.sub("", reason, count=1).split(" (after ")[0]
    if "certificate verify failed" in reason:
        return "certificate verify failed"
    return reason


def explain(bootstrap: str, reason: str, ca_file: str | None = None) -> str:
    """One line: the broker, the setting to fix, the server's reason."""
    setting = setting_for(reason) or "bootstrap_servers / security"
    words = _server_words(reason)
    if words == "certificate verify failed":
        detail = tls_detail(bootstrap, ca_file)
        if detail:
            if "mismatch" in detail.lower():
                setting = "bootstrap_servers (must be a name the broker certificate holds)"
            elif "expired" in detail.lower() or "not yet valid" in detail.lower():
                setting = "the broker certificate (outside its validity dates; renew it)"
            else:
                setting = "security.ssl_ca_location (the CA that signed the broker certificate)"
            words = f"{words}: {detail}"
    return f"kafka={bootstrap} fix={setting} reason={words}"


def last_reason(bootstrap: str) -> str | None:
    with _lock:
        return _reasons.get(bootstrap)


def _say(line: str) -> None:
    """Log ``line`` unless one about the same broker and setting went out less than a minute
    ago (librdkafka words one refusal several ways: log line, error callback, exception)."""
    key = line.split(" reason=")[0]
    now = time.monotonic()
    with _lock:
        if now - _last_said.get(key, -REPEAT_SECONDS) < REPEAT_SECONDS:
            return
        _last_said[key] = now
        if len(_last_said) > 1000:
            _last_said.clear()
    log.error("%s", line)


def record(bootstrap: str, reason: str, ca_file: str | None = None) -> None:
    """A security failure seen by a client: said once, kept for /readyz and later errors."""
    line = explain(bootstrap, reason, ca_file)
    with _lock:
        changed = _reasons.get(bootstrap) != line
        _reasons[bootstrap] = line
    if changed:  # /readyz shows the current reason, not the first one
        observability.sink_succeeded(f"kafka {bootstrap}")
    observability.sink_failed(f"kafka {bootstrap}", line)
    _say(line)


def cleared(bootstrap: str) -> None:
    with _lock:
        _reasons.pop(bootstrap, None)
    observability.sink_succeeded(f"kafka {bootstrap}")


class _ClientLog:
    """Where librdkafka's own log lines go (it calls ``log`` only): security failures become
    ``record``; any other line repeats at most once a minute."""

    def __init__(self, bootstrap: str, ca_file: str | None) -> None:
        self.logger = logging.getLogger("logwax.kafka.client")
        self._bootstrap, self._ca_file = bootstrap, ca_file

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        text = str(msg) % args if args else str(msg)
        if setting_for(text):
            record(self._bootstrap, text, self._ca_file)
            return
        now = time.monotonic()
        with _lock:
            if now - _last_said.get(text, -REPEAT_SECONDS) < REPEAT_SECONDS:
                return
            _last_said[text] = now
        self.logger.log(level, "%s", text)


def client_hooks(bootstrap: str, ca_file: str | None) -> dict[str, Any]:
    """``logger`` and ``error_cb`` for one client's settings dict."""

    def on_error(error: KafkaError) -> None:
        text = f"{error.name()}: {error.str()}"
        if setting_for(text):
            record(bootstrap, text, ca_file)

    return {"logger": _ClientLog(bootstrap, ca_file), "error_cb": on_error}


def wait_seconds(attempt: int) -> float:
    """5 s, 10 s, 20 s, 40 s, then 60 s, each ±20 %: at most a few attempts a minute."""
    return float(min(5.0 * 2 ** max(attempt - 1, 0), 60.0) * random.uniform(0.8, 1.2))


# What a refused credential or certificate looks like in a delivery report: librdkafka keeps
# the records queued until their delivery timeout, then fails them with one of these.
_WHILE_REFUSED = frozenset({KafkaError._MSG_TIMED_OUT, KafkaError._TRANSPORT})


def refusal(bootstrap: str, error: KafkaError) -> str | None:
    """The one line when ``error`` (a delivery report's) is a refusal an operator must fix: an
    ACL in the error itself, or a timeout or a producer's fatal state (an idempotent producer
    refused its id) while the broker refuses."""
    text = f"{error.name()}: {error.str()}"
    if setting_for(text):
        record(bootstrap, text)
        return last_reason(bootstrap)
    if error.code() in _WHILE_REFUSED or error.fatal():
        return last_reason(bootstrap)
    return None


def raised_refusal(bootstrap: str, exc: KafkaException) -> str | None:
    """The one line when a client call raised because the broker refuses; None otherwise."""
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        return refusal(bootstrap, error)
    return last_reason(bootstrap)


def patiently(
    bootstrap: str, attempt: Callable[[], T], give_up_after: float = GIVE_UP_AFTER_S
) -> T:
    """``attempt()`` until it succeeds, waiting out credential, certificate and ACL refusals.

    Each attempt builds its clients anew, so a corrected Secret file or a granted ACL counts
    at the next one. Other failures raise at once, as before; after ``give_up_after`` seconds
    of refusals the one line is raised (the job stops and its supervisor restarts it).
    """
    started, tries = time.monotonic(), 0
    while True:
        try:
            result = attempt()
        except KafkaException as exc:
            line = raised_refusal(bootstrap, exc)
            if line is None:
                raise
            tries += 1
            if time.monotonic() - started > give_up_after:
                raise LogwaxError(line) from None
            time.sleep(wait_seconds(tries))
            continue
        if tries:
            log.warning("kafka=%s accepted again after %d refused attempts", bootstrap, tries)
        cleared(bootstrap)
        return result


def topic_metadata(client: dict[str, Any], topic: str, timeout: float = 10.0) -> Any:
    """One topic's metadata (confluent-kafka's TopicMetadata); a refusal raises with its reason.

    Asked for by name: a listing of all topics silently leaves out unauthorized ones.
    """
    consumer = Consumer(client)
    try:
        described = consumer.list_topics(topic, timeout=timeout).topics[topic]
    except KafkaException:
        consumer.poll(0.5)  # serves the error callback and log lines that say why
        raise
    finally:
        consumer.close()
    if described.error is not None and setting_for(described.error.name()):
        raise KafkaException(described.error)
    return described
