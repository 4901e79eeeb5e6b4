"""Tailed log files: fingerprinted, resumable, rotation-aware."""

from logwax.connectors.files.config import FilesSourceConfig
from logwax.connectors.files.source import FilesSource, FilesState

__all__ = ["FilesSource", "FilesSourceConfig", "FilesState"]
