"""Every workload in ``deploy/k8s`` starts logwax with arguments its own parser accepts.

No pod had ever run when the shipped ``args`` put the global ``--log-format`` after ``run``, which
argparse refuses ("unrecognized arguments"): each pod would have exited at once. Read straight
from the files, so it needs neither kustomize nor a cluster.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from logwax.app.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
WORKLOADS = sorted(
    path
    for path in DEPLOY.rglob("*.yaml")
    if any(
        doc and doc.get("kind") in ("DaemonSet", "Deployment", "StatefulSet")
        for doc in yaml.safe_load_all(path.read_text())
    )
)


def test_the_three_workloads_are_found() -> None:
    assert [path.parent.name for path in WORKLOADS] == ["collect", "events", "index"]


@pytest.mark.parametrize("path", WORKLOADS, ids=lambda path: path.parent.name)
def test_the_container_args_parse(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        for container in doc["spec"]["template"]["spec"]["containers"]:
            args = build_parser().parse_args(container["args"])
            assert args.command == "run" and args.log_format == "json"
            assert args.metrics_port == 9108
