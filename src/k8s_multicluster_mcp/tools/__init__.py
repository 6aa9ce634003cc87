"""MCP tools, grouped into toolsets.

Each toolset module exposes `TOOLS`, a list of `ToolSpec`; `register_tools` adds the ones the
settings allow (`--read-only` drops every tool that writes, `--disable-destructive` every
destructive one) with MCP annotations that say what each does. Tools stay thin: parse arguments,
call the query layer (in a worker thread: the kubernetes client blocks), render.
"""

from __future__ import annotations

import inspect
from typing import Any

from mcp.server import MCPServer
from mcp_types import ToolAnnotations

from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.settings import Settings
from k8s_multicluster_mcp.tools import config, core, diagnostics, fleet, listings, workloads, writes
from k8s_multicluster_mcp.tools.base import ToolSpec, as_tool_errors, enabled, run_blocking

__all__ = ["ALL_TOOLS", "ToolSpec", "as_tool_errors", "enabled", "register_tools", "run_blocking"]

ALL_TOOLS: tuple[ToolSpec, ...] = (
    *core.TOOLS,
    *fleet.TOOLS,
    *workloads.TOOLS,
    *config.TOOLS,
    *listings.TOOLS,
    *diagnostics.TOOLS,
    *writes.TOOLS,
)


def register_tools(server: MCPServer[Any], state: ClusterState, settings: Settings) -> list[str]:
    """Add every enabled tool to `server`; returns their names."""
    names = []
    for spec in ALL_TOOLS:
        if not enabled(spec, settings):
            continue
        fn = as_tool_errors(spec.make(state))
        server.add_tool(
            fn,
            name=spec.name,
            title=spec.title,
            description=" ".join(inspect.cleandoc(fn.__doc__ or "").split()),
            annotations=ToolAnnotations(
                read_only_hint=not spec.writes,
                destructive_hint=spec.destructive or spec.overwrites,
                idempotent_hint=spec.idempotent,
                open_world_hint=True,
            ),
            structured_output=spec.output_schema,
        )
        names.append(spec.name)
    return names
