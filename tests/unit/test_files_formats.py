from __future__ import annotations

from pathlib import PurePath

from logwax.connectors.files.assemble import Assembler
from logwax.connectors.files.formats import parse_cri, parse_docker, parse_json, parse_rfc3339_ns
from logwax.connectors.files.kubernetes_paths import kubernetes_fields


def test_rfc3339_nanoseconds_are_kept() -> None:
    assert parse_rfc3339_ns("1970-01-01T00:00:01.000000002Z") == 1_000_000_002
    assert parse_rfc3339_ns("1970-01-01T01:00:00+01:00") == 0
    assert parse_rfc3339_ns("yesterday") is None


def test_docker_json_file_line() -> None:
    entry = parse_docker(7, '{"log":"hello\\n","stream":"stderr","time":"1970-01-01T00:00:02Z"}')
    assert (entry.offset, entry.text, entry.partial, entry.stream) == (7, "hello", False, "stderr")
    assert entry.timestamp_ns == 2 * 10**9
    assert parse_docker(0, '{"log":"no newline","stream":"stdout"}').partial


def test_cri_line_and_its_partial_flag() -> None:
    entry = parse_cri(0, "2024-05-01T10:00:00.5Z stdout P first half")
    assert (entry.text, entry.partial, entry.stream) == ("first half", True, "stdout")
    assert parse_cri(0, "2024-05-01T10:00:00.5Z stderr F").text == ""


def test_unparseable_lines_are_kept_and_tagged() -> None:
    assert parse_cri(0, "garbage").tags == ("cri_parse_error",)
    assert parse_cri(0, "garbage").text == "garbage"
    assert parse_docker(0, "{not json").tags == ("docker_parse_error",)
    assert parse_json(0, "[1, 2]").tags == ("json_not_object",)


def test_json_message_and_fields() -> None:
    entry = parse_json(0, '{"msg": "started", "port": 8080}')
    assert entry.text == "started" and entry.fields == {"json": {"port": 8080}}


def test_cri_partials_merge_per_stream_and_hold_back_their_offset() -> None:
    joiner = Assembler(None, timeout=5, max_lines=1, max_bytes=10_000)
    assert joiner.push(parse_cri(0, "2024-05-01T10:00:00Z stdout P abc"), now=0) == []
    err = joiner.push(parse_cri(40, "2024-05-01T10:00:00Z stderr F oops"), now=0)
    assert [e.text for e in err] == ["oops"]
    assert joiner.pending_offset() == 0
    done = joiner.push(parse_cri(80, "2024-05-01T10:00:01Z stdout F def"), now=0)
    assert [(e.offset, e.text) for e in done] == [(0, "abcdef")]
    assert joiner.pending_offset() is None


def test_multiline_groups_by_start_pattern_and_flushes_on_timeout() -> None:
    joiner = Assembler(r"^\d{4}-", timeout=1.0, max_lines=100, max_bytes=10_000)
    lines = ["2024-01-01 boom", "  at a()", "  at b()", "2024-01-01 next"]
    out = []
    for offset, text in enumerate(lines):
        out += joiner.push(parse_cri(offset, f"2024-05-01T10:00:00Z stdout F {text}"), now=0)
    assert [e.text for e in out] == ["2024-01-01 boom\n  at a()\n  at b()"]
    assert joiner.pending_offset() == 3
    assert joiner.flush_expired(now=0.5) == []
    assert [e.text for e in joiner.flush_expired(now=1.0)] == ["2024-01-01 next"]


def test_kubernetes_metadata_from_kubelet_paths() -> None:
    cid = "a" * 64
    fields = kubernetes_fields(PurePath(f"/var/log/containers/web-7d_shop_nginx-{cid}.log"))
    assert fields == {
        "kubernetes": {
            "pod_name": "web-7d",
            "namespace": "shop",
            "container_name": "nginx",
            "container_id": cid,
        }
    }
    pods = kubernetes_fields(PurePath("/var/log/pods/shop_web-7d_1234-ab/nginx/0.log"))
    assert pods is not None and pods["kubernetes"]["pod_uid"] == "1234-ab"
    rotated = PurePath("/var/log/pods/shop_web-7d_1234-ab/nginx/0.log.20261128-143028")
    assert kubernetes_fields(rotated) == {
        "kubernetes": {
            "pod_name": "web-7d",
            "namespace": "shop",
            "pod_uid": "1234-ab",
            "container_name": "nginx",
        }
    }
    # gzipped at the next rotation, and finished from the archive: still that pod's lines
    assert kubernetes_fields(PurePath(f"{rotated}.gz")) == kubernetes_fields(rotated)
    assert kubernetes_fields(PurePath("/var/log/syslog")) is None
