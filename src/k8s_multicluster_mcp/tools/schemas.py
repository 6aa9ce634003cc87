"""Compact JSON schemas for `tools/list`: the client sends every tool's schemas to the model on
every request, so each byte is paid for many times.

The rewrite keeps what a schema accepts and says: it drops what pydantic adds for humans reading
generated docs (titles derived from field names, `default: null`) and writes "X or null" as a type
list instead of an `anyOf`. Validation of calls uses the SDK's own (full) schemas, not these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "not")


def compact(schema: Any, *, descriptions: bool = True) -> Any:
    """`schema` with titles and null defaults dropped and nullable unions collapsed;
    `descriptions=False` drops descriptions too (output schemas: the field names say enough)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if (
            key == "title"
            or (key == "default" and value is None)
            or (key == "description" and not descriptions)
        ):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: compact(sub, descriptions=descriptions) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [compact(sub, descriptions=descriptions) for sub in value]
        elif key in _SCHEMA_VALUES:
            out[key] = compact(value, descriptions=descriptions)
        else:
            out[key] = value
    return _collapse_nullable(out)


def model_bytes(tool: Mapping[str, Any]) -> int:
    """What one `tools/list` entry (its wire JSON) costs the model on every request: its name,
    description and input schema as compact UTF-8 JSON (titles, annotations and output schemas are
    for the client). The measure behind the default toolsets' budget (issue 21)."""
    seen = {key: tool[key] for key in ("name", "description", "inputSchema") if key in tool}
    return len(json.dumps(seen, separators=(",", ":"), ensure_ascii=False).encode())


def _collapse_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """A union of plain types as one type list: `{"anyOf": [{"type": "string"}, {"type": "null"}]}`
    -> `{"type": ["string", "null"]}`; keywords that apply to one type only (`items`, `format`,
    `additionalProperties`) move to the merged schema, an `enum` gains null when null is allowed."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or "type" in schema:
        return schema
    if not all(isinstance(o, dict) and isinstance(o.get("type"), str) for o in options):
        return schema
    types = [o["type"] for o in options]
    merged: dict[str, Any] = {"type": types}
    for option in options:
        for key, value in option.items():
            if key == "type":
                continue
            if key in merged or (key == "enum" and len(types) - ("null" in types) > 1):
                return schema
            merged[key] = value
    if "enum" in merged and "null" in types:
        merged["enum"] = [*merged["enum"], None]
    return {**merged, **{k: v for k, v in schema.items() if k != "anyOf"}}
