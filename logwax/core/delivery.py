"""Sinks say which records they delivered; a source that keeps its position outside bytewax
listens, so that a checkpoint moves only after the sink confirmed delivery.

bytewax's own recovery needs none of this: a snapshot is taken after the sinks wrote the epoch.
A source whose positions live elsewhere (the Kafka source's consumer-group mode, offsets
committed to the group) must know which of the records it read are safe, and only a sink can
say so. Listeners run in the sink's thread, so they must be quick and thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from logwax.core.metrics import DELIVERY_LISTENER_ERRORS
from logwax.core.record import Record

log = logging.getLogger(__name__)

Listener = Callable[[Iterable[Record]], None]

_listeners: list[Listener] = []
_lock = threading.Lock()


def listen(listener: Listener) -> None:
    with _lock:
        _listeners.append(listener)


def forget(listener: Listener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def confirmed(batches: list[list[Record]]) -> None:
    """Every record of ``batches`` is in the sink (indexed, already there, or dead-lettered)."""
    listeners = _listeners
    if not listeners:
        return
    for listener in list(listeners):
        for batch in batches:
            try:
                listener(batch)
            except Exception:  # the sink's delivery stands: its step must not fail for this
                _listener_failed(listener, len(batch))


_failed_said: set[str] = set()


def _listener_failed(listener: Listener, records: int) -> None:
    """Count, and say once per listener with its traceback: the listener's checkpoint does not
    move past these records, so they are read again after a restart (never lost), and its
    source's readiness shows the stall."""
    name = getattr(listener, "__qualname__", repr(listener))
    DELIVERY_LISTENER_ERRORS.inc()
    if name in _failed_said:
        return
    _failed_said.add(name)
    log.exception(
        "delivery listener %s failed on %d confirmed records: its checkpoint stays behind them "
        "(they are read again after a restart); later failures are only counted in "
        "logwax_delivery_listener_errors_total",
        name,
        records,
    )
