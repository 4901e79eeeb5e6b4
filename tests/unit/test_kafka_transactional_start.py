"""The exactly-once sink partition's start runs beside the flow; what it raises must reach the
flow's thread at every use of the partition, not only the first."""

from __future__ import annotations

import pytest

from logwax.connectors.kafka import transactional
from logwax.connectors.kafka.config import KafkaSinkConfig
from logwax.core.errors import DeliveryError


def test_a_failed_start_is_raised_at_every_use(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(self: object, _id: str, _resume: object) -> None:
        raise DeliveryError("start refused")

    monkeypatch.setattr(transactional._TransactionalPartition, "_start", refused)
    config = KafkaSinkConfig(bootstrap_servers="127.0.0.1:9", topic="t", exactly_once=True)
    part = transactional._TransactionalPartition(
        config, "kafka", "id-0", 0, None, transactional.CommitPolicy()
    )
    for use in (lambda: part.write_batch([]), part.snapshot, part.close):
        with pytest.raises(DeliveryError, match="start refused"):
            use()
