"""Which offsets a consumer-group member may commit: the records it read, less those a sink has
not yet confirmed.

Records of one Kafka partition can reach Elasticsearch out of order (batches are keyed by
stream, and several streams share a partition), so committing the highest delivered offset
could skip one still in flight. Per partition this keeps the offsets read and not yet
delivered, in read order; the commit point is the lowest of them, or one past the last read
when none is left. Reads come from the source's thread, confirmations from the sink's: one lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

TopicPartitionKey = tuple[str, int]


class _Partition:
    __slots__ = ("committed", "next_read", "pending")

    def __init__(self) -> None:
        # OrderedDict: popping the oldest again and again stays O(1) (see ``steps.dedup``).
        self.pending: OrderedDict[int, None] = OrderedDict()
        self.next_read: int | None = None
        self.committed: int | None = None

    def point(self) -> int | None:
        if self.pending:
            return next(iter(self.pending))
        return self.next_read


class OffsetTracker:
    """Offsets of the partitions assigned to one group member, between read and commit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._partitions: dict[TopicPartitionKey, _Partition] = {}

    def assign(self, keys: list[TopicPartitionKey]) -> None:
        with self._lock:
            for key in keys:
                self._partitions[key] = _Partition()

    def revoke(self, keys: list[TopicPartitionKey]) -> None:
        """Forget partitions given to another member: what was in flight here may still reach
        the sink (same document ids, so no duplicate), but is no longer ours to commit."""
        with self._lock:
            for key in keys:
                self._partitions.pop(key, None)

    def assigned(self) -> list[TopicPartitionKey]:
        with self._lock:
            return sorted(self._partitions)

    def read(self, key: TopicPartitionKey, offset: int) -> None:
        with self._lock:
            partition = self._partitions.get(key)
            if partition is None:  # read just before a revoke was served: not ours
                return
            partition.pending[offset] = None
            partition.next_read = offset + 1

    def delivered(self, key: TopicPartitionKey, offset: int) -> None:
        """An offset the sink confirmed; unknown partitions and offsets are ignored."""
        with self._lock:
            partition = self._partitions.get(key)
            if partition is not None:
                partition.pending.pop(offset, None)

    def due(self, keys: list[TopicPartitionKey] | None = None) -> dict[TopicPartitionKey, int]:
        """Commit points that moved since the last commit (of ``keys`` only, if given)."""
        with self._lock:
            due = {}
            for key, partition in self._partitions.items():
                if keys is not None and key not in keys:
                    continue
                point = partition.point()
                if point is not None and point != partition.committed:
                    due[key] = point
            return due

    def committed(self, points: dict[TopicPartitionKey, int]) -> None:
        with self._lock:
            for key, point in points.items():
                partition = self._partitions.get(key)
                if partition is not None:
                    partition.committed = point

    def in_flight(self) -> int:
        """Records read and not yet confirmed, over every assigned partition."""
        with self._lock:
            return sum(len(p.pending) for p in self._partitions.values())

    def behind(self, key: TopicPartitionKey, high: int) -> int | None:
        """Records between the commit point and ``high`` (the partition's end), if known."""
        with self._lock:
            partition = self._partitions.get(key)
            point = partition.point() if partition is not None else None
            return None if point is None else max(high - point, 0)
