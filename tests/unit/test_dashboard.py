"""The Grafana dashboard only charts metrics logwax really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import logwax.core.metrics  # noqa: F401 - registers every logwax metric

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "logwax-dashboard.json"


def exported_names() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        for suffix in ("_total", "_bucket", "_count", "_sum", "_created"):
            names.add(family.name + suffix)
    return names


def test_every_panel_query_uses_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_names()
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used.update(re.findall(r"\blogwax_[a-z_]+", target["expr"]))
    assert used, "the dashboard charts nothing"
    assert used <= exported, sorted(used - exported)
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("records in", "lag", "errors", "dead-lettered", "snapshot"):
        assert topic in titles
