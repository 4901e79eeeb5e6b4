"""Settings of a tailed-files source, named like Vector's ``file`` and Filebeat's ``filestream``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ByteSize, ConfigDict, Field, field_validator

from logwax.connectors.k8s_metadata import KubernetesMetadataConfig
from logwax.core.units import Duration


class MultilineConfig(BaseModel):
    """Join continuation lines (stack traces) to the line that starts an event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_pattern: str = Field(description="regex matching the first line of an event")
    timeout: Duration = Field(timedelta(seconds=1), description="flush a group idle this long")
    max_lines: int = Field(500, ge=1)

    @field_validator("start_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class FilesSourceConfig(BaseModel):
    """Which files to tail and how to cut them into records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["files"]
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    include: list[str] = Field(min_length=1, description="glob patterns of files to tail")
    exclude: list[str] = Field(default_factory=list, description="glob patterns to leave out")
    read_from: Literal["beginning", "end"] = Field(
        "beginning", description="where to start in a file seen for the first time at start-up"
    )
    scan_interval: Duration = Field(timedelta(seconds=10), description="how often globs rescan")
    poll_interval: Duration = Field(timedelta(milliseconds=250), description="idle re-read delay")
    fingerprint_bytes: int = Field(
        256, ge=16, le=65536, description="bytes of the first line that identify a file"
    )
    file_identity: Literal["inode_and_fingerprint", "fingerprint", "path"] = Field(
        "inode_and_fingerprint",
        description=(
            "what makes a file the same file: device+inode confirmed by the first line "
            "(default), the first line alone (copies are continuations; files with the same "
            "first line are merged), or the path (network filesystems with unstable inodes)"
        ),
    )
    forget_after: Duration = Field(
        timedelta(hours=24),
        description="forget the offset of a file not seen this long (deleted, rotated away)",
    )
    # 896 KiB leaves room for the record's envelope and fields under the Kafka producer's
    # default message.max.bytes (1,000,000), so the defaults never contradict each other.
    max_line_bytes: ByteSize = Field(
        ByteSize(896 * 1024), ge=1024, description="longer lines are cut, tagged 'truncated'"
    )
    format: Literal["raw", "json", "docker", "cri"] = "raw"
    multiline: MultilineConfig | None = None
    partial_timeout: Duration = Field(
        timedelta(seconds=5),
        description=(
            "flush docker/CRI partial pieces whose end never came, and a last line without "
            "newline left alone this long (tagged partial_line)"
        ),
    )
    max_open_files: int = Field(1024, ge=1, description="files held open at once; others wait")
    close_inactive: Duration = Field(
        timedelta(minutes=5), description="close a file idle this long (reopened when it grows)"
    )
    batch_lines: int = Field(1000, ge=1, description="most lines handed on per poll")
    rate_limit: float | None = Field(
        None, gt=0, description="most records per second this source hands on (None: no limit)"
    )
    kubernetes_metadata: KubernetesMetadataConfig | None = Field(
        None, description="add pod, workload and namespace metadata to container log lines"
    )
