"""Reading one key through etcd's v3 JSON gateway with urllib3 (no gRPC stubs to keep in step
with protobuf), trying each endpoint in turn."""

from __future__ import annotations

import base64
import json
from typing import Any

import urllib3

from logwax.connectors.etcd.config import EtcdTargetsConfig


class EtcdUnavailable(Exception):
    """No endpoint answered."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class EtcdGateway:
    def __init__(self, config: EtcdTargetsConfig) -> None:
        self._config = config
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=5), retries=False)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        errors = []
        for endpoint in self._config.endpoints:
            try:
                response = self._http.request(
                    "POST",
                    f"{endpoint.rstrip('/')}{path}",
                    body=json.dumps(body).encode(),
                    headers=self._headers(),
                )
            except urllib3.exceptions.HTTPError as exc:
                errors.append(f"{endpoint}: {type(exc).__name__}")
                continue
            if response.status != 200:
                errors.append(f"{endpoint}: HTTP {response.status}")
                continue
            answer: dict[str, Any] = json.loads(response.data)
            return answer
        raise EtcdUnavailable("; ".join(errors))

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._config.username and self._config.password:
            token = self._post_auth()
            headers["Authorization"] = token
        return headers

    def _post_auth(self) -> str:
        password = self._config.password.get_secret_value() if self._config.password else ""
        for endpoint in self._config.endpoints:
            try:
                response = self._http.request(
                    "POST",
                    f"{endpoint.rstrip('/')}/v3/auth/authenticate",
                    body=json.dumps({"name": self._config.username, "password": password}).encode(),
                )
            except urllib3.exceptions.HTTPError:
                continue
            if response.status == 200:
                return str(json.loads(response.data)["token"])
        raise EtcdUnavailable("authentication failed at every endpoint")

    def get(self, key: str) -> tuple[bytes | None, int]:
        """The key's value (None if absent) and its mod revision (0 if absent)."""
        answer = self._post("/v3/kv/range", {"key": _b64(key)})
        kvs = answer.get("kvs") or []
        if not kvs:
            return None, 0
        return base64.b64decode(kvs[0].get("value", "")), int(kvs[0].get("mod_revision", 0))

    def put(self, key: str, value: bytes) -> None:
        self._post("/v3/kv/put", {"key": _b64(key), "value": base64.b64encode(value).decode()})
