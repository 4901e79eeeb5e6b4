"""One exception tree so callers can tell logwax's own failures from library bugs."""

from __future__ import annotations


class LogwaxError(Exception):
    """Base of every error logwax raises on purpose; the message says what to do."""


class ConfigError(LogwaxError):
    """The pipeline configuration is invalid; ``problems`` lists (key path, reason) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path}: {reason}" for path, reason in problems]
        super().__init__("\n".join(lines))


class DeliveryError(LogwaxError):
    """A sink could not deliver records; raised so the flow stops and recovers instead of losing."""


def logwax_cause(exc: BaseException, depth: int = 64) -> LogwaxError | None:
    """The LogwaxError under bytewax's wrappers: it raises its own runtime error per layer,
    chaining ours as a cause, so the message that says what to do is at the bottom."""
    seen: BaseException | None = exc
    for _ in range(depth):
        if seen is None:
            return None
        if isinstance(seen, LogwaxError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
