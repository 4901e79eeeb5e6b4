"""The systemd journal, followed through journalctl and resumed from its cursor."""

from connectors.journald.config import JournaldSourceConfig
from connectors.journald.source import JournaldSource

__all__ = ["JournaldSource", "JournaldSourceConfig"]
