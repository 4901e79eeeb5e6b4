from __future__ import annotations

import pytest

from logwax.connectors.k8s_events.config import KubernetesEventsSourceConfig
from logwax.connectors.k8s_events.events import last_seen_ns, resource_version_number, to_record

EVENT = {
    "metadata": {
        "name": "web.17a",
        "namespace": "shop",
        "uid": "u-1",
        "resourceVersion": "4711",
        "creationTimestamp": "2026-01-01T00:00:00Z",
    },
    "involvedObject": {"kind": "Pod", "name": "web", "namespace": "shop"},
    "reason": "BackOff",
    "message": "Back-off restarting failed container",
    "type": "Warning",
    "count": 3,
    "firstTimestamp": "2026-01-01T00:00:00Z",
    "lastTimestamp": "2026-01-01T00:05:00Z",
    "source": {"component": "kubelet"},
}


def test_an_event_version_becomes_a_record() -> None:
    record = to_record("events", EVENT)
    assert record.event_id == "u-1:4711"
    assert record.stream == "shop/Pod/web"
    assert record.message == "Back-off restarting failed container"
    event = record.fields["kubernetes"]["event"]
    assert (event["reason"], event["count"], event["reporting_component"]) == (
        "BackOff",
        3,
        "kubelet",
    )
    assert record.timestamp_ns == 1767225900 * 10**9  # lastTimestamp, not creation


def test_last_seen_prefers_the_series_then_falls_back() -> None:
    with_series = {**EVENT, "series": {"lastObservedTime": "2026-01-01T00:09:00.500000Z"}}
    assert last_seen_ns(with_series) == 1767226140_500000000
    bare = {"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}}
    assert last_seen_ns(bare) == 1767225600 * 10**9
    assert resource_version_number({"metadata": {"resourceVersion": "opaque"}}) is None


def test_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="namespace"):
        KubernetesEventsSourceConfig.model_validate(
            {"type": "kubernetes_events", "name": "e", "namespace": "typo"}
        )
