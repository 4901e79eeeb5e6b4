"""bytewax source tailing the collection targets an operator keeps in etcd.

Each target is a files source of its own, built from the same pydantic model as the static
config. Added targets start tailing, removed ones stop (their offsets kept, in case they come
back), changed ones restart with their new settings from where they were. The last valid targets
are part of the snapshot, so a restart while etcd is down resumes collecting what it collected.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from bytewax.inputs import FixedPartitionedSource

from logwax.connectors.base import SourcePartition
from logwax.connectors.etcd.config import EtcdTargetsConfig, Target
from logwax.connectors.etcd.poller import TargetsPoller
from logwax.connectors.files import FilesSource, FilesState
from logwax.core.record import Record, with_metadata

log = logging.getLogger(__name__)

# Resume state: the targets last applied (as plain dicts) and each target's file offsets.
TargetsState = dict[str, Any]


class _TargetsPartition(SourcePartition[TargetsState]):
    def __init__(self, config: EtcdTargetsConfig, resume: TargetsState | None) -> None:
        resume = resume or {}
        self._offsets: dict[str, FilesState] = dict(resume.get("offsets", {}))
        known = [Target.model_validate(t) for t in resume.get("targets", [])] if resume else None
        self._poller = TargetsPoller(config, known)
        self._poller.start()
        self._version = -1
        self._running: dict[str, tuple[Target, SourcePartition[FilesState]]] = {}
        self._applied: list[Target] = known or []
        self._poll_every = config.poll_interval
        self._awake: datetime | None = None

    def _apply(self) -> None:
        version, targets = self._poller.current()
        if version == self._version or targets is None:
            return
        self._version = version
        wanted = {t.name: t for t in targets}
        for name in list(self._running):
            target, part = self._running[name]
            if wanted.get(name) != target:
                self._offsets[name] = part.position()
                part.close()
                del self._running[name]
                log.info("target=%s %s", name, "stopped" if name not in wanted else "changed")
        for name, target in wanted.items():
            if name not in self._running:
                part = FilesSource(target).build_part("targets", name, self._offsets.get(name))
                self._running[name] = (target, part)
                log.info(
                    "target=%s started include=%s topic=%s", name, target.include, target.topic
                )
        self._applied = list(targets)

    def read(self) -> list[Record]:
        self._apply()
        records: list[Record] = []
        wake: list[datetime] = []
        for target, part in self._running.values():
            batch = part.read()
            if target.topic:
                batch = [with_metadata(r, kafka_topic=target.topic) for r in batch]
            records.extend(batch)
            awake = part.next_awake()
            if awake is not None:
                wake.append(awake)
        if records:
            self._awake = None
        else:
            fallback = datetime.now(UTC) + self._poll_every
            self._awake = min([*wake, fallback])
        return records

    def position(self) -> TargetsState:
        for name, (_target, part) in self._running.items():
            self._offsets[name] = part.position()
        return {
            "targets": [t.model_dump(mode="json") for t in self._applied],
            "offsets": dict(self._offsets),
        }

    def close(self) -> None:
        self._poller.stop()
        for _target, part in self._running.values():
            part.close()


class EtcdTargetsSource(FixedPartitionedSource[Record, TargetsState]):
    """Tails the files of the targets under this host's etcd key, following its changes.

    Unit of parallelism: one partition (one host's targets). Guarantee: at-least-once, as the
    files source: per target, file → offset in the snapshot, same event ids on replay.
    Resumes from those offsets and the last applied targets, even if etcd is down at start.
    """

    def __init__(self, config: EtcdTargetsConfig) -> None:
        self._config = config

    def list_parts(self) -> list[str]:
        return ["etcd-targets"]

    def build_part(
        self, step_id: str, for_part: str, resume_state: TargetsState | None
    ) -> _TargetsPartition:
        return _TargetsPartition(self._config, resume_state)
