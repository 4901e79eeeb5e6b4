"""The files source as the registry sees it."""

from __future__ import annotations

from logwax.connectors.descriptor import SourceConnector
from logwax.connectors.files.config import FilesSourceConfig
from logwax.connectors.files.health import probe
from logwax.connectors.files.source import FilesSource

SOURCE = SourceConnector(tag="files", config=FilesSourceConfig, build=FilesSource, probe=probe)
