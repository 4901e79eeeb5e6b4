"""Rules the index flow applies to each record: rename, drop and add fields, parse JSON messages.

Field paths are dotted (``kubernetes.pod_name``) and address the record's fields. A rule that
does not apply (missing field, message that is not JSON) leaves the record as it was and tags it,
so nothing is lost to a rule.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from logwax.core import jsoncodec
from logwax.core.record import Record


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rename: dict[str, str] = Field(description="from path → to path")


class Drop(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    drop: list[str]


class Add(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    add: dict[str, str | int | float | bool]


class ParseJson(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    parse_json: Literal["message"] = "message"
    target: str = Field("json", description="field path that receives the parsed object")


TransformRule = Rename | Drop | Add | ParseJson


def _pop(fields: dict[str, Any], path: str) -> tuple[bool, Any]:
    *parents, last = path.split(".")
    node: Any = fields
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict) and last in node:
        return True, node.pop(last)
    return False, None


def _put(fields: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = fields
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value


def _copy(value: Any) -> Any:
    return {k: _copy(v) for k, v in value.items()} if isinstance(value, dict) else value


def apply(rules: list[TransformRule], record: Record) -> Record:
    if not rules:
        return record
    fields: dict[str, Any] = _copy(dict(record.fields))
    tags: list[str] = list(fields.get("tags", []))
    for rule in rules:
        if isinstance(rule, Rename):
            for source, target in rule.rename.items():
                found, value = _pop(fields, source)
                if found:
                    _put(fields, target, value)
        elif isinstance(rule, Drop):
            for path in rule.drop:
                _pop(fields, path)
        elif isinstance(rule, Add):
            for path, value in rule.add.items():
                _put(fields, path, value)
        else:
            try:
                parsed = jsoncodec.loads(record.message)
            except ValueError:
                tags.append("json_parse_error")
                continue
            _put(fields, rule.target, parsed)
    if tags:
        fields["tags"] = list(dict.fromkeys(tags))
    return record._replace(fields=fields)
