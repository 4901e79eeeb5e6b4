"""The systemd journal, followed through journalctl and resumed from its cursor."""

from logwax.connectors.journald.config import JournaldSourceConfig
from logwax.connectors.journald.source import JournaldSource

__all__ = ["JournaldSource", "JournaldSourceConfig"]
