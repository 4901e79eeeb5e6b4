"""The one error the development tools raise."""

from __future__ import annotations

from logwax.core.errors import LogwaxError


class DevServerError(LogwaxError):
    """A local development server could not be fetched, started or reached."""
