"""Settings of a tailed-files source, named like Vector's ``file`` and Filebeat's ``filestream``."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ByteSize, ConfigDict, Field

from logwax.units import Duration


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
    max_line_bytes: ByteSize = Field(ByteSize(1024 * 1024), ge=1024)
    batch_lines: int = Field(1000, ge=1, description="most lines handed on per poll")
