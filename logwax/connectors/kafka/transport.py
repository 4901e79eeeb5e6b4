"""What a Kafka sink's producer says about its connections: counted, and a wait that shows.

librdkafka reconnects and resends by itself, inside the delivery timeout, so a broker that is
away does not fail a batch: the sink just waits. Without more, that wait is invisible: no
metric moves and ``/readyz`` stays 200 while nothing is delivered. So every client error is
counted (``logwax_sink_errors_total{reason="transport"|"all_brokers_down"|...}``, which also
bounds the attempts a test can see), and every wait for the broker's acknowledgements is a
request in flight for ``health``: longer than ``health.hung_request``, ``/readyz`` names the
sink and what it waits for, and the mark goes with the wait (an idle sink is never left marked).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from confluent_kafka import KafkaError

from logwax.core import health
from logwax.core.metrics import SINK_ERRORS


def counted(sink_name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with an error hook that also counts the client's errors under the sink's
    name. The hook already there (the security diagnosis, see ``clients.connection``) keeps
    being called first: librdkafka takes one ``error_cb``, and a dict merge would drop it."""
    before = settings.get("error_cb")

    def on_error(error: KafkaError) -> None:
        if before is not None:
            before(error)
        SINK_ERRORS.labels(sink_name, error.name().lstrip("_").lower()).inc()

    return {**settings, "error_cb": on_error}


@contextlib.contextmanager
def awaiting(sink_name: str, what: str) -> Iterator[None]:
    """Around a wait for acknowledgements or a commit: a hung one shows on ``/readyz``."""
    with health.in_flight(f"sink {sink_name}", what):
        yield
