from __future__ import annotations

import pytest

from logwax.connectors.etcd.config import EtcdTargetsConfig
from logwax.connectors.etcd.poller import parse_targets


def test_targets_parse_from_json_or_yaml_with_the_files_model() -> None:
    json_doc = (
        b'{"targets": [{"name": "nginx", "include": ["/var/log/nginx/*.log"], '
        b'"topic": "web", "rate_limit": 500}]}'
    )
    yaml_doc = b"targets:\n  - name: nginx\n    include: [/var/log/nginx/*.log]\n    topic: web\n"
    (from_json,), (from_yaml,) = parse_targets(json_doc), parse_targets(yaml_doc)
    assert from_json.topic == from_yaml.topic == "web"
    assert from_json.rate_limit == 500 and from_json.format == "raw"


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (b"targets: [ {name: a, include: 7} ]", "include"),
        (b'{"targets": [{"name": "a", "include": ["x"], "colour": "red"}]}', "colour"),
        (
            b'{"targets": [{"name": "a", "include": ["x"]}, {"name": "a", "include": ["y"]}]}',
            "unique",
        ),
        (b"[1, 2", "neither JSON nor YAML"),
    ],
)
def test_bad_documents_are_refused_with_the_reason(document: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_targets(document)


def test_the_key_is_per_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_NAME", "worker-7")
    assert (
        EtcdTargetsConfig(endpoints=["http://etcd:2379"]).resolved_key()
        == "/logwax/targets/worker-7"
    )
