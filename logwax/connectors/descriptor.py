"""How a connector describes itself to the rest of logwax: one descriptor per source or sink.

A descriptor carries the connector's pydantic settings model, how to build the bytewax source
(or attach the sink to a stream) from those settings, and how ``logwax check`` probes it.
``registry.py`` collects them; the pipeline settings, the flows and ``check`` read only the
registry, so adding a connector is its own folder plus one line there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar

from bytewax.dataflow import Stream
from bytewax.inputs import FixedPartitionedSource
from pydantic import BaseModel

from logwax.core.record import Record

C = TypeVar("C", bound=BaseModel)
Chunk = list[Record]  # the records of one stream from one read (see logwax.steps.chunks)
Probe = Callable[[Any], str]  # says what works, or raises with the reason


class Batcher(Protocol):
    """The flow's batching step, handed to sinks (connectors sit below the steps layer)."""

    def __call__(
        self, step_id: str, records: Stream[Chunk], key: Callable[[Chunk], str] | None = None
    ) -> Stream[tuple[str, Chunk]]:
        """Batches keyed by ``key`` (default: buckets of streams, on the worker that read them)."""
        ...


@dataclass(frozen=True)
class SinkWiring:
    """What a flow gives a sink besides its settings: its name, its batching step and that
    step's bounds (a transactional sink commits on the same latency bound)."""

    pipeline: str
    batch: Batcher
    max_latency: timedelta = timedelta(seconds=1)
    max_records: int = 1000


@dataclass(frozen=True)
class SourceConnector(Generic[C]):
    """A source listed under ``sources:``, chosen by its ``type:`` value, ``tag`` here.

    ``flows`` names the flows it may feed (the events flow reads Kubernetes Events only).
    """

    tag: str
    config: type[C]
    build: Callable[[C], FixedPartitionedSource[Record, Any]]
    probe: Probe
    flows: frozenset[str] = frozenset({"collect"})


@dataclass(frozen=True)
class InputConnector(Generic[C]):
    """A source with a settings key of its own (``kafka_input``, ``etcd_targets``)."""

    key: str
    config: type[C]
    build: Callable[[C], FixedPartitionedSource[Record, Any]]
    probe: Probe


@dataclass(frozen=True)
class SinkConnector(Generic[C]):
    """A sink under its own settings key; ``attach`` batches a stream and writes it out."""

    key: str
    config: type[C]
    attach: Callable[[Stream[Chunk], C, SinkWiring], None]
    probe: Probe
