"""What every logwax source partition does the same way, written once.

Each source reads differently, but all of them must end their stream when a graceful stop is
requested (so bytewax drains the sinks and takes a final snapshot), report the snapshot to the
``/readyz`` clock, and tell bytewax when to call again. A source implements ``read`` and
``position``; bytewax's ``next_batch``/``snapshot``/``next_awake`` are here.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import TypeVar

from bytewax.inputs import StatefulSourcePartition

from logwax.core import observability, shutdown
from logwax.core.record import Record

S = TypeVar("S")


class SourcePartition(StatefulSourcePartition[Record, S]):
    """A resumable source partition: ``read`` never blocks, ``position`` is after the last read.

    ``_awake`` is when bytewax should call ``read`` again after an empty or throttled read
    (``None``: as soon as it likes).
    """

    _awake: datetime | None = None

    @abstractmethod
    def read(self) -> list[Record]:
        """The next records; never blocks or sleeps (set ``_awake`` instead)."""

    @abstractmethod
    def position(self) -> S:
        """Where to resume: just after the last record ``read`` returned."""

    def next_batch(self) -> list[Record]:
        if shutdown.requested():
            raise StopIteration
        return self.read()

    def next_awake(self) -> datetime | None:
        return self._awake

    def snapshot(self) -> S:
        observability.snapshot_taken()
        return self.position()
