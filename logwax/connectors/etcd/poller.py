"""Follows the per-host targets key: polls its revision, parses new values, keeps the last good.

A one-second range request is the whole watch: it needs no long-lived stream, and an etcd
restart or failover is just a failed poll, retried with backoff while the last valid targets keep
running. Invalid documents are rejected with a log line and a metric, never applied.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import yaml
from pydantic import ValidationError

from logwax.connectors.etcd.config import EtcdTargetsConfig, Target, TargetsDocument
from logwax.connectors.etcd.gateway import EtcdGateway, EtcdUnavailable
from logwax.core.metrics import TARGETS_EVENTS
from logwax.core.retry import Retrier
from logwax.core.supervisor import Supervised

log = logging.getLogger(__name__)
SOURCE = "etcd-targets"  # the name under which /readyz and the metrics show this poller


def parse_targets(value: bytes) -> list[Target]:
    """JSON or YAML ``{"targets": [...]}``; raises ValueError with every problem listed."""
    try:
        document: Any = json.loads(value)
    except ValueError:
        try:
            document = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ValueError(f"neither JSON nor YAML: {exc}") from None
    try:
        return list(TargetsDocument.model_validate(document).targets)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ValueError(problems) from None


class TargetsPoller:
    def __init__(self, config: EtcdTargetsConfig, initial: list[Target] | None) -> None:
        self._config = config
        self._key = config.resolved_key()
        self._gateway = EtcdGateway(config)
        self._lock = threading.Lock()
        self._targets = initial
        self._version = 0  # bumps whenever a new valid document is taken
        self._revision = -1
        self._stopped = threading.Event()
        self._retry = Retrier(
            SOURCE,
            self._stopped,
            initial=config.poll_interval.total_seconds(),
            maximum=config.backoff_max.total_seconds(),
        )
        self._supervised = Supervised(SOURCE, "etcd-targets", self._run, self._stopped)

    def start(self) -> None:
        self._supervised.start()

    def stop(self) -> None:
        self._stopped.set()

    def current(self) -> tuple[int, list[Target] | None]:
        with self._lock:
            return self._version, self._targets

    def _run(self) -> None:
        """Supervised: an unexpected error restarts this loop; the last targets keep running."""
        while not self._stopped.is_set():
            try:
                self._poll()
                self._retry.succeeded()
            except EtcdUnavailable as exc:
                TARGETS_EVENTS.labels("etcd_unreachable").inc()
                self._retry.failed(
                    "etcd_unreachable", f"etcd unreachable ({exc}); keeping the last targets"
                )
                continue
            self._stopped.wait(self._config.poll_interval.total_seconds())

    def _poll(self) -> None:
        value, revision = self._gateway.get(self._key)
        if revision == self._revision:
            return
        self._revision = revision
        if value is None:
            targets: list[Target] = []
        else:
            try:
                targets = parse_targets(value)
            except ValueError as exc:
                TARGETS_EVENTS.labels("rejected").inc()
                log.error(
                    "key=%s revision=%d targets rejected, previous ones keep running: %s",
                    self._key,
                    revision,
                    exc,
                )
                return
        TARGETS_EVENTS.labels("applied").inc()
        log.info(
            "key=%s revision=%d targets: %s",
            self._key,
            revision,
            ", ".join(t.name for t in targets) or "(none)",
        )
        with self._lock:
            self._targets = targets
            self._version += 1
