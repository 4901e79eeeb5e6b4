from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

from logwax.connectors.journald.config import JournaldSourceConfig
from logwax.connectors.journald.entries import cursor_event_id, to_record
from logwax.connectors.journald.export import parse
from logwax.connectors.journald.reader import journalctl_args

CURSOR = "s=abc123;i=1f;b=boot;m=3;t=5;x=9"


def field(name: str, value: str | bytes) -> bytes:
    """One field in journalctl's export format: text, or length-framed bytes."""
    if isinstance(value, str):
        return f"{name}={value}\n".encode()
    return name.encode() + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"


def export(**extra: str | bytes | list[str | bytes]) -> bytes:
    fields: dict[str, str | bytes | list[str | bytes]] = {
        "__CURSOR": CURSOR,
        "__REALTIME_TIMESTAMP": "1700000000000001",
        "__MONOTONIC_TIMESTAMP": "3",
        "_BOOT_ID": "boot",
        "_SYSTEMD_UNIT": "ssh.service",
        "MESSAGE": "Accepted publickey",
        **extra,
    }
    out = b""
    for name, value in fields.items():
        for one in value if isinstance(value, list) else [value]:
            out += field(name, one)
    return out + b"\n"


def entry(**extra: str | bytes | list[str | bytes]) -> dict[str, Any]:
    entries, used = parse(export(**extra))
    assert len(entries) == 1 and used == len(export(**extra))
    return entries[0]


def test_entry_becomes_a_record_with_a_cursor_based_id() -> None:
    record = to_record("node", entry(PRIORITY="6"))
    assert record.event_id == "abc123:1f" == cursor_event_id(CURSOR)
    assert record.timestamp_ns == 1700000000000001000
    assert record.message == "Accepted publickey"
    assert record.stream == "boot/ssh.service"
    assert record.fields["journald"] == {
        "_BOOT_ID": "boot",
        "_SYSTEMD_UNIT": "ssh.service",
        "PRIORITY": "6",
    }
    assert record.fields["journald_cursor"] == CURSOR


def test_binary_values_are_kept_not_dropped() -> None:
    record = to_record("node", entry(MESSAGE=b"hi\xff", BLOB=b"\0\1\2", MULTI=["a", b"\xfe"]))
    assert record.message == "hi\ufffd" and record.fields["tags"] == ["binary_message"]
    assert record.fields["journald"]["BLOB"] == {"base64": base64.b64encode(b"\0\1\2").decode()}
    assert record.fields["journald"]["MULTI"] == [
        "a",
        {"base64": base64.b64encode(b"\xfe").decode()},
    ]


def test_framed_text_is_text_as_json_output_would_show_it() -> None:
    """journalctl frames a value holding a newline; JSON output shows it as a string."""
    record = to_record("node", entry(MESSAGE=b"Traceback:\n  line 1\tx", CODE=b"caf\xc3\xa9"))
    assert record.message == "Traceback:\n  line 1\tx" and "tags" not in record.fields
    assert record.fields["journald"]["CODE"] == "café"
    assert entry(BELL=b"\x07")["BELL"] == b"\x07"  # a control character: binary


def test_export_stream_cut_anywhere_parses_the_complete_entries_only() -> None:
    """Blank lines and newlines inside framed values (and in their length bytes) do not end an
    entry early; a cut entry waits for the rest of its bytes."""
    tricky = b"\n\nX\n\n" + bytes(range(256))
    stream = export(MESSAGE="one") + export(BLOB=tricky, MESSAGE=b"a\n\nb") + export(MESSAGE="3")
    assert len(tricky) == 261 and struct.pack("<Q", 10)[:1] == b"\n"
    stream += export(MESSAGE="x" * 10, TEN=b"\n\n\n\n\n\n\n\n\n\n")  # length 10: b"\n\0..."
    whole, used = parse(stream)
    assert used == len(stream) and [e["MESSAGE"] for e in whole] == [
        "one",
        "a\n\nb",
        "3",
        "x" * 10,
    ]
    assert whole[1]["BLOB"] == tricky and whole[3]["TEN"] == "\n" * 10
    for cut in range(len(stream)):
        head, used = parse(stream[:cut])
        tail, rest = parse(stream[used:])
        assert head + tail == whole and used + rest == len(stream), cut


def test_non_entries_are_refused() -> None:
    with pytest.raises(ValueError):
        to_record("node", {"no": "cursor"})
    with pytest.raises(ValueError):
        to_record("node", {"__CURSOR": b"binary"})
    late = to_record("node", {"__CURSOR": CURSOR, "__REALTIME_TIMESTAMP": "soon"})
    assert late.timestamp_ns == 0 and late.fields["tags"] == ["invalid_timestamp"]


def test_filters_become_journalctl_arguments() -> None:
    config = JournaldSourceConfig.model_validate(
        {
            "type": "journald",
            "name": "j",
            "directory": "/var/log/journal",
            "units": ["ssh.service"],
            "matches": {"SYSLOG_IDENTIFIER": "sshd"},
            "min_priority": "warning",
            "current_boot_only": True,
        }
    )
    args = journalctl_args(config, cursor=None)
    assert args[:3] == ["journalctl", "--follow", "--output=export"]
    for expected in (
        "--directory=/var/log/journal",
        "--lines=all",
        "--boot",
        "--priority=4",
        "--unit=ssh.service",
        "SYSLOG_IDENTIFIER=sshd",
    ):
        assert expected in args
    assert "--merge" not in args  # journalctl refuses --merge with --boot
    resumed = journalctl_args(config, cursor=CURSOR)
    assert f"--cursor={CURSOR}" in resumed and "--lines=all" in resumed
    every_boot = journalctl_args(config.model_copy(update={"current_boot_only": False}), None)
    assert "--merge" in every_boot and "--boot" not in every_boot


def test_since_now_and_bad_field_names() -> None:
    since = JournaldSourceConfig(type="journald", name="j", since_now=True)
    assert "--lines=0" in journalctl_args(since, None)
    assert "--lines=all" in journalctl_args(since, None, from_head=True)  # lost-cursor fallback
    files = JournaldSourceConfig(type="journald", name="j", files=["/j/system*.journal"])
    assert "--file=/j/system*.journal" in journalctl_args(files, None)
    with pytest.raises(ValueError, match="not both"):
        JournaldSourceConfig(type="journald", name="j", directory="/j", files=["/j/a.journal"])
    with pytest.raises(ValueError, match="upper case"):
        JournaldSourceConfig(type="journald", name="j", matches={"unit": "x"})
