from __future__ import annotations

import base64
import json

import pytest

from logwax.connectors.journald.config import JournaldSourceConfig
from logwax.connectors.journald.entries import cursor_event_id, to_record
from logwax.connectors.journald.reader import journalctl_args

CURSOR = "s=abc123;i=1f;b=boot;m=3;t=5;x=9"


def entry(**extra: object) -> bytes:
    return json.dumps(
        {
            "__CURSOR": CURSOR,
            "__REALTIME_TIMESTAMP": "1700000000000001",
            "_BOOT_ID": "boot",
            "_SYSTEMD_UNIT": "ssh.service",
            "MESSAGE": "Accepted publickey",
            **extra,
        }
    ).encode()


def test_entry_becomes_a_record_with_a_cursor_based_id() -> None:
    record = to_record("node", entry(PRIORITY="6"))
    assert record.event_id == "abc123:1f" == cursor_event_id(CURSOR)
    assert record.timestamp_ns == 1700000000000001000
    assert record.message == "Accepted publickey"
    assert record.stream == "boot/ssh.service"
    assert record.fields["journald"]["PRIORITY"] == "6"
    assert record.fields["journald_cursor"] == CURSOR


def test_binary_values_are_kept_not_dropped() -> None:
    record = to_record("node", entry(MESSAGE=[104, 105, 255], BLOB=[0, 1, 2], MULTI=["a", "b"]))
    assert record.message == "hi\ufffd" and record.fields["tags"] == ["binary_message"]
    assert record.fields["journald"]["BLOB"] == {"base64": base64.b64encode(b"\0\1\2").decode()}
    assert record.fields["journald"]["MULTI"] == ["a", "b"]


def test_non_entries_are_refused() -> None:
    with pytest.raises(ValueError):
        to_record("node", b'{"no": "cursor"}')
    with pytest.raises(ValueError):
        to_record("node", b"not json")


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
    assert args[:3] == ["journalctl", "--follow", "--output=json"]
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
    with pytest.raises(ValueError, match="upper case"):
        JournaldSourceConfig(type="journald", name="j", matches={"unit": "x"})
