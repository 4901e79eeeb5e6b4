"""Kubernetes Event objects → records.

Every version of an Event is a record: a count bump or a new ``lastTimestamp`` arrives as a
MODIFIED watch event with a new ``resourceVersion``, so the id ``<uid>:<resourceVersion>`` names
exactly one observation, the same however often it is listed or watched again.

The conversion is total: a field holding another type than the Event schema says (an object
that is not one, a time that is not a string) is read as absent, never raised on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from logwax.core.record import Record, clean_text


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_time(value: Any) -> int | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1e6) * 1000
    except (ValueError, OverflowError):
        return None


def last_seen_ns(event: dict[str, Any]) -> int:
    """When the event last happened, from the most precise field the producer filled in."""
    series = _object(event.get("series"))
    metadata = _object(event.get("metadata"))
    for candidate in (
        series.get("lastObservedTime"),
        event.get("lastTimestamp"),
        event.get("eventTime"),
        event.get("firstTimestamp"),
        metadata.get("creationTimestamp"),
    ):
        parsed = parse_time(candidate)
        if parsed is not None:
            return parsed
    return 0


def resource_version_number(event: dict[str, Any]) -> int | None:
    """resourceVersion as a number (etcd's revision), or None if the server uses another form."""
    try:
        return int(event["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return None


def to_record(source: str, event: dict[str, Any]) -> Record:
    metadata = _object(event.get("metadata"))
    involved = _object(event.get("involvedObject"))
    namespace = metadata.get("namespace", "")
    fields = {
        "kubernetes": {
            "namespace": namespace,
            "event": {
                "name": metadata.get("name"),
                "uid": metadata.get("uid"),
                "resource_version": metadata.get("resourceVersion"),
                "reason": event.get("reason"),
                "type": event.get("type"),
                "count": event.get("count"),
                "first_timestamp": event.get("firstTimestamp"),
                "last_timestamp": event.get("lastTimestamp"),
                "reporting_component": event.get("reportingComponent")
                or _object(event.get("source")).get("component"),
            },
            "involved_object": {
                k: involved.get(k) for k in ("kind", "name", "namespace", "uid", "fieldPath")
            },
        }
    }
    return Record(
        source=source,
        stream=clean_text(f"{namespace}/{involved.get('kind', '')}/{involved.get('name', '')}"),
        event_id=clean_text(f"{metadata.get('uid')}:{metadata.get('resourceVersion')}"),
        timestamp_ns=last_seen_ns(event),
        message=clean_text(str(event.get("message") or "")),
        fields=fields,
    )
