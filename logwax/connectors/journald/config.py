"""Settings of a journald source, named like Vector's ``journald`` and Filebeat's ``journald``."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from logwax.core.units import Duration

PRIORITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_FIELD = re.compile(r"^[A-Z0-9_]+$")


class JournaldSourceConfig(BaseModel):
    """Which journal entries to read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["journald"]
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    directory: Path | None = Field(None, description="read this journal directory, not the host's")
    files: list[str] = Field(
        default_factory=list,
        description="read these journal files (globs allowed), not the host's journal",
    )
    units: list[str] = Field(default_factory=list, description="only these systemd units")
    matches: dict[str, str] = Field(
        default_factory=dict, description="journal field matches, e.g. {SYSLOG_IDENTIFIER: sshd}"
    )
    min_priority: Literal[PRIORITIES] | None = Field(  # type: ignore[valid-type]
        None, description="keep entries at least this important (journald's -p)"
    )
    current_boot_only: bool = False
    since_now: bool = Field(False, description="start at the end when there is no saved cursor")
    journalctl: str = Field("journalctl", description="the journalctl binary to run")
    batch_entries: int = Field(1000, ge=1)
    rate_limit: float | None = Field(
        None, gt=0, description="most records per second this source hands on (None: no limit)"
    )
    poll_interval: Duration = timedelta(milliseconds=100)
    restart_backoff_max: Duration = timedelta(seconds=30)

    @model_validator(mode="after")
    def _one_journal(self) -> JournaldSourceConfig:
        if self.directory is not None and self.files:
            raise ValueError("give directory or files, not both (journalctl takes one)")
        return self

    @field_validator("matches")
    @classmethod
    def _field_names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not _FIELD.match(k)]
        if bad:
            raise ValueError(f"journal field names are upper case A-Z, 0-9 and _: {bad}")
        return value
