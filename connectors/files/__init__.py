"""Tailed log files: fingerprinted, resumable, rotation-aware."""

from connectors.files.config import FilesSourceConfig
from connectors.files.source import FilesSource

__all__ = ["FilesSource", "FilesSourceConfig"]
