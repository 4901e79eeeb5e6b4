"""The dev tooling's container pieces that need no engine: the create_topic setting, where the
engine keeps its state, the mirror debootstrap is given, and the image inputs hash."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from devtools import engine, images
from devtools.home import DevPaths
from logwax.connectors.kafka.config import KafkaSinkConfig


def test_create_topic_is_off_by_default_and_checked_when_given() -> None:
    base = {"bootstrap_servers": "127.0.0.1:9092", "topic": "logs", "exactly_once": True}
    assert KafkaSinkConfig(**base).create_topic is None
    made = KafkaSinkConfig(**base, create_topic={"partitions": 6, "replication_factor": 3})
    assert made.create_topic is not None and made.create_topic.partitions == 6
    with pytest.raises(ValidationError):
        KafkaSinkConfig(**base, create_topic={"partitions": 0, "replication_factor": 1})
    with pytest.raises(ValidationError, match="replicas"):
        KafkaSinkConfig(**base, create_topic={"partitions": 1, "replicas": 1})


def test_engine_state_is_outside_the_directory_devtools_down_removes(tmp_path: Path) -> None:
    where = engine.engine_paths(DevPaths(tmp_path))
    run = DevPaths(tmp_path).run
    for path in (where.socket, where.pidfile, where.exec_root, where.data):
        assert run not in path.parents
    assert where.data.is_relative_to(DevPaths(tmp_path).cache)  # images survive a restart
    assert where.host == f"unix://{where.socket}"
    assert not engine.answers(where)


def test_debootstrap_gets_a_debian_mirror_url() -> None:
    mirror = images.debian_mirror()
    assert mirror.startswith(("http://", "https://")) and mirror.endswith("/debian")


def test_image_inputs_hash_follows_content_not_time(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM x\n")
    first = images.digest_tree("base-id", tmp_path / "ctx")
    (tmp_path / "ctx" / "Dockerfile").touch()
    assert images.digest_tree("base-id", tmp_path / "ctx") == first
    assert images.digest_tree("other-base", tmp_path / "ctx") != first
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM y\n")
    assert images.digest_tree("base-id", tmp_path / "ctx") != first
