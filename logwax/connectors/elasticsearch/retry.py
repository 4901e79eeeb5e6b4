"""Which bulk item outcomes are success, which are worth another try, and which never will be."""

from __future__ import annotations

from enum import Enum


class Outcome(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REFUSED = "refused"  # 401/403: the credential, not the document; kept until it is fixed
    REJECTED = "rejected"


def classify(status: int) -> Outcome:
    """409 on ``create`` means the same ``_id`` is already indexed: a replay, hence success."""
    if status < 300 or status == 409:
        return Outcome.DELIVERED
    if status == 429 or status >= 500:
        return Outcome.RETRY
    if status in (401, 403):
        return Outcome.REFUSED
    return Outcome.REJECTED
