"""The journald source as the registry sees it."""

from __future__ import annotations

from logwax.connectors.descriptor import SourceConnector
from logwax.connectors.journald.config import JournaldSourceConfig
from logwax.connectors.journald.health import probe
from logwax.connectors.journald.source import JournaldSource

SOURCE = SourceConnector(
    tag="journald", config=JournaldSourceConfig, build=JournaldSource, probe=probe
)
