"""The client's JSON serializer, switched to logwax's orjson codec.

The bulk helper serializes every action and document with the client's ``application/json``
serializer; with the standard library that was a large share of the index flow's time per
record. The stock ``OrjsonSerializer`` would fail the whole bulk request on one document orjson
refuses (a 65-bit integer, a lone surrogate), which would stop the flow on every replay; this one
falls back to the standard library for that document.
"""

from __future__ import annotations

from typing import Any

from elasticsearch.serializer import JsonSerializer

from logwax.core import jsoncodec


class FastJsonSerializer(JsonSerializer):
    def json_dumps(self, data: Any) -> bytes:
        return jsoncodec.dumps(data, default=self.default)

    def json_loads(self, data: bytes) -> Any:
        return jsoncodec.loads(data)
