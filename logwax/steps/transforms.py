"""Rules the index flow applies to each record: rename, drop and add fields, parse JSON messages.

Field paths are dotted (``kubernetes.pod_name``) and address the record's fields. A rule that
does not apply (missing field, message that is not JSON) leaves the record as it was and tags it,
so nothing is lost to a rule. Rules never raise on a record's content: a field holding the
wrong type, a ``tags`` that is not a list, a message that is JSON but not an object all give a
record.

``parse_json`` of a message that is JSON but not an object (a list, a number, a string, a
boolean, null) puts its JSON text into ``<target>_value`` (always a string) and tags the record
``json_not_object``: the object field ``<target>`` keeps one mapping whatever the messages hold.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from logwax.core import jsoncodec
from logwax.core.record import Record, json_text, with_tags


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


def _copy(value: dict[str, Any]) -> dict[str, Any]:
    """Copy nested dicts (rules edit them in place); iterative, as fields can nest 1,000 deep."""
    top = dict(value)
    stack = [top]
    while stack:
        node = stack.pop()
        for key, child in node.items():
            if isinstance(child, dict):
                node[key] = copied = dict(child)
                stack.append(copied)
    return top


def apply(rules: list[TransformRule], record: Record) -> Record:
    if not rules:
        return record
    fields = _copy(dict(record.fields))
    tags: list[str] = []
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
            if isinstance(parsed, dict):
                _put(fields, rule.target, parsed)
            else:
                _put(fields, f"{rule.target}_value", json_text(parsed))
                tags.append("json_not_object")
    if tags:
        with_tags(fields, *tags)
    return record._replace(fields=fields)
