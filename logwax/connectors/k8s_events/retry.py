"""Which Kubernetes API answers are worth another attempt, and what the server said.

Everything is: a 403 during an RBAC change, a 401 after a token rotation, a 429, a 5xx, a 410
while listing again, a reset connection. None of these is a reason to stop following Events;
the backoff keeps the attempts bounded. The reason names the counter, the detail is the
server's own message so the WARNING says what to fix.
"""

from __future__ import annotations

import json

from kubernetes.client.exceptions import ApiException

REASONS = {401: "unauthorized", 403: "forbidden", 404: "not_found", 410: "gone", 429: "throttled"}


def classify(exc: ApiException) -> tuple[str, str, float | None]:
    """(reason, the server's message, seconds the server asked us to wait or None)."""
    status = int(exc.status or 0)
    reason = REASONS.get(status) or ("server_error" if status >= 500 else f"http_{status}")
    detail = str(exc.reason or "")
    try:
        body = json.loads(exc.body or "{}")
        if isinstance(body, dict) and body.get("message"):
            detail = str(body["message"])
    except (ValueError, TypeError):
        pass
    retry_after = None
    headers = exc.headers or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    if value is not None:
        try:
            retry_after = float(value)
        except ValueError:
            retry_after = None
    return reason, f"HTTP {status} {detail}".strip(), retry_after
