"""What a write changed: the fields that differ between two cleaned objects, bookkeeping left out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_IGNORED = (
    "metadata.resourceVersion",
    "metadata.generation",
    "metadata.uid",
    "metadata.creationTimestamp",
    "metadata.managedFields",
    "status",
)
"""Fields a diff does not show: bookkeeping the API server changes on every write."""


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: Any
    after: Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of an object by path (`spec.template.spec.containers[name=web].image`)."""
    if isinstance(value, Mapping):
        if not value:
            return {prefix: {}} if prefix else {}
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        if not value:
            return {prefix: []}
        named = all(isinstance(i, Mapping) and isinstance(i.get("name"), str) for i in value)
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[name={item['name']}]" if named else f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[FieldChange]:
    """The leaves that differ between two (cleaned) objects, bookkeeping fields left out."""
    old, new = flatten(before or {}), flatten(after or {})
    changes = []
    paths = sorted(set(old) | set(new))
    for path in paths:
        if any(path == i or path.startswith((f"{i}.", f"{i}[")) for i in _IGNORED):
            continue
        was, now = old.get(path), new.get(path)
        if old.get(path, _MISSING) == new.get(path, _MISSING):
            continue
        # An empty map that gained (or a map that lost all) entries: the entries say it.
        emptied = was in ({}, []) or now in ({}, [])
        if emptied and any(p.startswith((f"{path}.", f"{path}[")) for p in paths):
            continue
        changes.append(FieldChange(path, was, now))
    return changes


_MISSING = object()
