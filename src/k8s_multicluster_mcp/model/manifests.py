"""Manifests and bodies the write tools send: YAML or JSON documents (a List expanded), Secret
bodies, and checks of label and annotation maps."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import yaml

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.common.text import shown
from k8s_multicluster_mcp.model.records import Raw


def parse_manifests(text: str) -> list[dict[str, Any]]:
    """The objects of a YAML or JSON manifest (several documents, `kind: List` expanded)."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"invalid YAML{where}: {problem}") from exc
    objects: list[dict[str, Any]] = []
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            objects.extend(doc["items"])
        else:
            objects.append(doc)
    if not objects:
        raise UserError("the manifest holds no object")
    for index, obj in enumerate(objects, 1):
        if not isinstance(obj, dict):
            raise UserError(f"document {index} is not an object (a mapping with apiVersion, kind, metadata)")
        missing = [k for k in ("apiVersion", "kind") if not isinstance(obj.get(k), str) or not obj.get(k)]
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not (meta.get("name") or meta.get("generateName")):
            missing.append("metadata.name")
        if missing:
            raise UserError(f"document {index} has no {', '.join(missing)}")
    return objects


def secret_body(
    name: str, namespace: str, data: Mapping[str, str], secret_type: str, labels: Mapping[str, str] | None
) -> Raw:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": secret_type,
        "metadata": {"name": name, "namespace": namespace, **({"labels": dict(labels)} if labels else {})},
        "data": {k: base64.b64encode(str(v).encode()).decode() for k, v in data.items()},
    }


def check_labels(labels: Mapping[str, Any], what: str = "label") -> None:
    for key, value in labels.items():
        if not key or len(key) > 316 or any(c.isspace() for c in key):
            raise UserError(f"invalid {what} key {shown(key)}")
        if value is not None and not isinstance(value, str):
            raise UserError(f"{what} {shown(key)}: the value must be a string, or null to remove it")
