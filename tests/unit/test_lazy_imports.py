"""Client libraries are imported by the flows that use them, not by every ``logwax run``.

The registry reads every connector's settings; the Elasticsearch and Kubernetes clients were
0.3 s of each start of a flow that uses neither. A fresh interpreter is needed: this test
process has imported both already.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from logwax.connectors import lazy

CLIENTS = ("elasticsearch", "elastic_transport", "aiohttp", "kubernetes")


def _imported_after(statement: str) -> list[str]:
    probe = f"import sys; {statement}; print(' '.join(m for m in {CLIENTS!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.split()


def test_a_file_to_kafka_flow_imports_no_elasticsearch_or_kubernetes_client() -> None:
    assert _imported_after("import logwax.app.cli, logwax.flows.collect, logwax.settings") == []


def test_the_names_packages_export_still_import() -> None:
    imported = _imported_after(
        "from logwax.connectors.elasticsearch import ElasticsearchSink; "
        "from logwax.connectors.k8s_events import KubernetesEventsSource; "
        "from logwax.connectors.k8s_metadata import probe"
    )
    assert set(imported) == set(CLIENTS)


def test_an_unknown_name_is_an_attribute_error() -> None:
    getattr_ = lazy.exports("logwax.connectors.elasticsearch", {"ElasticsearchSink": "sink"})
    assert getattr_("ElasticsearchSink").__name__ == "ElasticsearchSink"
    with pytest.raises(AttributeError, match="no attribute 'Missing'"):
        getattr_("Missing")
