"""The config toolset's detail tools: one Secret (keys and sizes; values only when the operator
started the server with --allow-secret-values) or one ConfigMap (values clipped). The listings
are in `listings`."""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from typing import Annotated

from mcp_types import CallToolResult
from pydantic import Field

from k8s_multicluster_mcp.query.objects import ObjectReader, ObjectsResult
from k8s_multicluster_mcp.render.objects import ObjectsOutput, render_objects
from k8s_multicluster_mcp.tools.base import Tools, run_blocking
from k8s_multicluster_mcp.tools.core import ContextArg, NamespaceArg, answer

NameArg = Annotated[str, Field(description="Object name.")]
TOOLS = Tools()


def _decoded(result: ObjectsResult) -> ObjectsResult:
    """Secrets with their base64 `data` decoded (only reached with --allow-secret-values)."""
    items = []
    for found in result.items:
        data = found.object.get("data") or {}
        shown = {}
        for key, value in data.items():
            try:
                shown[key] = base64.b64decode(value, validate=True).decode()
            except (binascii.Error, ValueError):
                shown[key] = value
        items.append(replace(found, object={**found.object, "data": shown}))
    return replace(result, items=items)


@TOOLS.add("k8s_get_secret_detail", "Get a secret (redacted)", "config")
async def k8s_get_secret_detail(
    reader: ObjectReader, name: NameArg, context: ContextArg = None, namespace: NamespaceArg = None
) -> Annotated[CallToolResult, ObjectsOutput]:
    """One Secret: type, labels, annotations and its keys with the size of each value. Values
    are never shown unless the server was started with --allow-secret-values."""
    found = await run_blocking(reader.get, "secrets", name, context, namespace)
    if reader.redactor.allow_secret_values:
        found = _decoded(found)
    return answer(*render_objects(found, "secrets"))


@TOOLS.add("k8s_get_configmap_detail", "Get a configmap", "config")
async def k8s_get_configmap_detail(
    reader: ObjectReader, name: NameArg, context: ContextArg = None, namespace: NamespaceArg = None
) -> Annotated[CallToolResult, ObjectsOutput]:
    """One ConfigMap with its data (each value clipped at 2,000 characters)."""
    found = await run_blocking(reader.get, "configmaps", name, context, namespace)
    return answer(*render_objects(found, "configmaps"))
