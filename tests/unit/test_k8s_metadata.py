"""The metadata cache's pieces with no API server: pod extraction, the store's grace, the wait
before shipping without metadata, the ECS layout, and the files source wiring."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient
from prometheus_client import REGISTRY

from logwax.connectors.files.config import FilesSourceConfig
from logwax.connectors.files.source import FilesSource
from logwax.connectors.k8s_metadata import Enricher, KubernetesMetadataConfig, stores
from logwax.connectors.k8s_metadata import cache as shared
from logwax.connectors.k8s_metadata.owners import OwnerResolver
from logwax.connectors.k8s_metadata.pods import Owner, pod_info
from logwax.connectors.k8s_metadata.stores import NamespaceStore, PodStore
from logwax.core.errors import ConfigError

SETTINGS = KubernetesMetadataConfig(node_name="n1")


def pod(name: str = "web-1", uid: str = "u1", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": uid,
            "resourceVersion": "7",
            "labels": labels or {"app": "web", "app.kubernetes.io/name": "web"},
            "annotations": {"team.example/owner": "ana", "vault.example/token": "s3cret"},
            "ownerReferences": [
                {"kind": "Node", "name": "n1"},
                {"kind": "ReplicaSet", "name": "web-5d", "controller": True},
            ],
        },
        "spec": {
            "nodeName": "n1",
            "containers": [{"name": "app", "image": "app:1"}, {"name": "side", "image": "px:2"}],
        },
        "status": {
            "podIP": "10.0.0.9",
            "containerStatuses": [
                {"name": "app", "imageID": "app@sha256:ab", "containerID": "containerd://c1"}
            ],
        },
    }


def test_settings_default_to_no_annotations_2s_wait_and_5min_grace() -> None:
    assert SETTINGS.annotations == ()
    assert SETTINGS.metadata_wait == timedelta(seconds=2)
    assert SETTINGS.deleted_pod_grace == timedelta(minutes=5)
    with pytest.raises(ValueError, match="bogus"):
        KubernetesMetadataConfig.model_validate({"bogus": 1})


def test_node_comes_from_the_setting_or_the_downward_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NODE_NAME", "from-env")
    assert KubernetesMetadataConfig().node() == "from-env"
    assert SETTINGS.node() == "n1"
    monkeypatch.delenv("NODE_NAME")
    with pytest.raises(ConfigError, match="NODE_NAME"):
        KubernetesMetadataConfig().node()


def test_a_pod_keeps_only_what_goes_on_a_line() -> None:
    info = pod_info(pod(), KubernetesMetadataConfig(annotations=("team.example/*",)))
    assert info.labels == {"app": "web", "app_kubernetes_io/name": "web"}
    assert info.annotations == {"team_example/owner": "ana"}
    assert pod_info(pod(), SETTINGS).annotations == {}  # none unless allowed
    assert info.owner == Owner("ReplicaSet", "web-5d")  # the controller, not the first ref
    assert info.containers["app"].image_id == "app@sha256:ab"
    assert info.containers["side"].image == "px:2" and info.containers["side"].image_id is None
    assert (info.ip, info.node) == ("10.0.0.9", "n1")
    undotted = pod_info(pod(), KubernetesMetadataConfig(dedot=False))
    assert "app.kubernetes.io/name" in undotted.labels


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(stores.time, "monotonic", fake)
    return fake


def test_deleted_pods_are_kept_for_the_grace(clock: Clock) -> None:
    store = PodStore(KubernetesMetadataConfig(deleted_pod_grace="60s"), None)
    store.replace([pod("a", "ua"), pod("b", "ub")])
    store.apply("DELETED", pod("a", "ua"))
    store.replace([pod("c", "uc")])  # a re-list without b: b is gone too
    clock.now += 59
    assert store.find("ua", "", "") is not None and store.is_deleted("ua")
    assert store.find("", "shop", "b") is not None and store.is_deleted("ub")
    clock.now += 6  # past the grace (and the purge period)
    assert store.find("ua", "", "") is None
    assert store.find("", "shop", "b") is None
    assert store.find("uc", "", "") is not None and len(store) == 1


def test_a_recreated_pod_is_not_deleted(clock: Clock) -> None:
    store = PodStore(SETTINGS, None)
    store.apply("ADDED", pod("a", "ua"))
    store.apply("DELETED", pod("a", "ua"))
    store.apply("ADDED", pod("a", "ua2"))
    assert not store.is_deleted("ua2")
    assert store.find("", "shop", "a").uid == "ua2"  # type: ignore[union-attr]


class FakeCache:
    """What the enricher reads of a cache: settings, pods, namespaces, owners."""

    def __init__(self, settings: KubernetesMetadataConfig) -> None:
        self.settings = settings
        self.pods = PodStore(settings, None)
        self.namespaces = NamespaceStore(settings)
        self.owners = None
        self.listed = True

    def namespaces_listed(self) -> bool:
        return self.listed


def lookups(source: str, result: str) -> float:
    labels = {"source": source, "result": result}
    return REGISTRY.get_sample_value("logwax_kubernetes_metadata_lookups_total", labels) or 0.0


PATH = {
    "kubernetes": {
        "pod_name": "web-1",
        "namespace": "shop",
        "pod_uid": "u1",
        "container_name": "app",
    }
}


def test_a_cached_pod_waits_for_the_first_namespace_list_at_most_metadata_wait() -> None:
    """At start the pods' list can arrive before the namespaces': a record enriched then would
    lack its namespace labels, so the file is held (within ``metadata_wait``) until they come."""
    cache = FakeCache(KubernetesMetadataConfig(metadata_wait="2s"))
    cache.pods.replace([pod()])
    cache.listed = False
    enricher = Enricher(cache, "unit-ns-wait")  # type: ignore[arg-type]
    assert not enricher.ready(PATH, 10.0)
    assert not enricher.ready(PATH, 11.0)
    cache.listed = True
    assert enricher.ready(PATH, 11.1)
    cache.listed = False  # a namespace list that never comes holds a file no longer than the wait
    other = {"kubernetes": {**PATH["kubernetes"], "container_name": "sidecar"}}
    assert not enricher.ready(other, 20.0)
    assert enricher.ready(other, 22.0)


def test_a_file_of_an_uncached_pod_waits_then_ships_flagged() -> None:
    cache = FakeCache(KubernetesMetadataConfig(metadata_wait="2s"))
    enricher = Enricher(cache, "unit-wait")  # type: ignore[arg-type]
    assert enricher.ready({}, 0.0)  # not a container log: never held
    assert not enricher.ready(PATH, 10.0)
    assert not enricher.ready(PATH, 11.9)
    assert enricher.ready(PATH, 12.0)
    before = lookups("unit-wait", "miss")
    fields = enricher.fields(PATH, 3)
    assert lookups("unit-wait", "miss") == before + 3
    assert fields["kubernetes"] == {
        "namespace": "shop",
        "pod": {"name": "web-1", "uid": "u1"},
        "container": {"name": "app"},
        "metadata_missing": True,
    }
    assert lookups("unit-wait", "waited") == 1


def test_cached_pod_fields_follow_ecs() -> None:
    cache = FakeCache(SETTINGS)
    cache.pods.replace([pod()])
    cache.namespaces.replace([{"metadata": {"name": "shop", "labels": {"team": "a"}}}])
    enricher = Enricher(cache, "unit-hit")  # type: ignore[arg-type]
    assert enricher.ready(PATH, 0.0)
    fields = enricher.fields(PATH, 2)
    assert fields == {
        "kubernetes": {
            "namespace": "shop",
            "namespace_labels": {"team": "a"},
            "node": {"name": "n1"},
            "pod": {"name": "web-1", "uid": "u1", "ip": "10.0.0.9"},
            "labels": {"app": "web", "app_kubernetes_io/name": "web"},
            "replicaset": {"name": "web-5d"},
            "container": {"name": "app", "image": "app:1"},
        },
        "container": {
            "name": "app",
            "id": "c1",
            "runtime": "containerd",
            "image": {"name": "app:1", "hash": {"all": ["app@sha256:ab"]}},
        },
    }
    assert lookups("unit-hit", "hit") == 2


def test_the_files_source_puts_the_metadata_on_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeCache(SETTINGS)
    fake.pods.replace([pod()])
    monkeypatch.setattr(shared, "acquire", lambda settings: fake)
    monkeypatch.setattr(shared, "release", lambda cache: None)
    logs = tmp_path / "pods" / "shop_web-1_u1" / "app"
    logs.mkdir(parents=True)
    (logs / "0.log").write_text("hello\n")
    (tmp_path / "plain.log").write_text("plain\n")
    config = FilesSourceConfig.model_validate(
        {
            "type": "files",
            "name": "unit-files",
            "include": [f"{tmp_path}/pods/*/*/*.log", f"{tmp_path}/*.log"],
            "scan_interval": 0,
            "kubernetes_metadata": {"node_name": "n1"},
        }
    )
    part = FilesSource(config).build_part("s", "unit-files", None)
    records = {r.message: r for _ in range(3) for r in part.next_batch()}
    assert records["hello"].fields["kubernetes"]["labels"]["app"] == "web"
    assert records["hello"].fields["log"]["file"]["path"].endswith("0.log")
    assert "kubernetes" not in records["plain"].fields


def test_a_static_pod_is_found_by_the_uid_in_its_log_path(clock: Clock) -> None:
    store = PodStore(SETTINGS, None)
    mirror = pod("etcd-n1", "mirror-uid")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "hash-of-manifest"}
    store.apply("ADDED", mirror)
    assert store.find("hash-of-manifest", "shop", "etcd-n1").uid == "mirror-uid"  # type: ignore[union-attr]
    assert store.find("other", "shop", "etcd-n1") is None


def test_an_owner_read_that_failed_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    answers: list[Any] = [
        OSError("refused"),
        {
            "metadata": {
                "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}]
            }
        },
    ]

    def read(namespace: str, owner: Owner) -> dict[str, Any]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    resolver = OwnerResolver(ApiClient(), ttl_s=600)
    monkeypatch.setattr(resolver, "_read", read)
    replica_set = Owner("ReplicaSet", "web-5d")
    resolver.resolve("shop", replica_set)
    assert resolver.cached("shop", replica_set) is None
    resolver.retry_failed()
    assert resolver.cached("shop", replica_set) == Owner("Deployment", "web")
    assert answers == []
