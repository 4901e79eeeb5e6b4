"""Secrets given inline (usually from an environment variable) or as a file to read at use time.

Kubernetes mounts a Secret as files and updates them in place when the Secret changes; reading the
file each time a client is built (not once at start) lets a rotated password take effect at the
next reconnect or restart of the client without editing the pipeline file. Values never leave
this module except into the client that needs them: errors name the setting and the file, never
the content.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from logwax.core.errors import ConfigError


def one_of(setting: str, value: SecretStr | None, file: Path | None) -> None:
    """Validation without I/O: a secret comes inline or from a file, not both."""
    if value is not None and file is not None:
        raise ValueError(f"give {setting} or {setting}_file, not both")


def reveal(setting: str, value: SecretStr | None, file: Path | None) -> str | None:
    """The secret's text for a client: inline, or the file's content without its final newline.

    ``echo secret > file`` and ``kubectl create secret --from-file`` both leave a trailing
    newline that is never part of a password.
    """
    if value is not None:
        return value.get_secret_value()
    if file is None:
        return None
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"{setting}_file", [(str(file), f"cannot be read: {reason}")]) from None
    secret = text.removesuffix("\n").removesuffix("\r")
    if not secret:
        raise ConfigError(f"{setting}_file", [(str(file), "is empty")])
    return secret
