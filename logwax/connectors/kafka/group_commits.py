"""Committing a consumer-group member's confirmed offsets, and reading the broker's answer.

A refusal because the partition moved to another member (fenced: an older group generation) is
expected after every rebalance: said once at INFO, counted, never fatal, and the partition's
new owner re-reads from the group's last commit. Any other failure (broker unreachable, a
timeout) is a stalled checkpoint: counted, warned, and reported to the caller, which keeps
/readyz's progress clock still.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from logwax.connectors.kafka.offsets import OffsetTracker, TopicPartitionKey
from logwax.core.metrics import KAFKA_GROUP_COMMITS

log = logging.getLogger("logwax.connectors.kafka.group")

# The broker's answers to a commit from a member that no longer owns the partition.
FENCED = {
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.FENCED_INSTANCE_ID,
    KafkaError._ASSIGNMENT_LOST,
}


def _code(error: Any) -> int | None:
    return error.code() if isinstance(error, KafkaError) else None


class GroupCommits:
    """Commits what ``tracker`` says is due, for the member ``name`` of ``group``, every
    ``interval`` seconds (said in the warning of a failed commit)."""

    def __init__(self, tracker: OffsetTracker, group: str, name: str, interval: float) -> None:
        self._tracker, self._group, self._name = tracker, group, name
        self._interval = interval
        self.fenced_said = False

    def commit(self, consumer: Consumer, keys: list[TopicPartitionKey] | None = None) -> bool:
        """Commit the confirmed points; a refusal after a rebalance is expected, not fatal.

        True when the checkpoint is where it should be: nothing was due, or every due point was
        committed or refused only because its partition moved. False when a commit failed (the
        broker unreachable, a timeout): the checkpoint is stalled and /readyz must say so.
        """
        points = self._tracker.due(keys)
        if not points:
            return True
        offsets = [TopicPartition(t, p, o) for (t, p), o in points.items()]
        try:
            answered = consumer.commit(offsets=offsets, asynchronous=False) or []
        except KafkaException as exc:
            return self._refused(exc.args[0] if exc.args else None, str(exc))
        refused = [tp for tp in answered if tp.error is not None]
        moved = True
        if refused:  # one count per commit: the worst answer (a failure over a fence)
            worst = next((tp for tp in refused if _code(tp.error) not in FENCED), refused[0])
            moved = self._refused(worst.error, str(worst.error))
            failed = {(tp.topic, tp.partition) for tp in refused}
            points = {k: v for k, v in points.items() if k not in failed}
        self._tracker.committed(points)
        if points:
            KAFKA_GROUP_COMMITS.labels(self._name, "ok").inc()
        return moved

    def _refused(self, error: Any, words: str) -> bool:
        """Count and say a refused commit; True when it was only fenced (the partition moved)."""
        if _code(error) in FENCED:
            KAFKA_GROUP_COMMITS.labels(self._name, "fenced").inc()
            if not self.fenced_said:
                self.fenced_said = True
                log.info(
                    "source=%s group=%s commit refused after a rebalance (%s): tried again at "
                    "the next interval for partitions still ours; a partition that moved is "
                    "re-read by its new owner from the group's last commit (same ids, no "
                    "duplicate)",
                    self._name,
                    self._group,
                    words,
                )
            return True
        KAFKA_GROUP_COMMITS.labels(self._name, "failed").inc()
        log.warning(
            "source=%s group=%s offset commit failed: %s; retried in %.1fs",
            self._name,
            self._group,
            words,
            self._interval,
        )
        return False
