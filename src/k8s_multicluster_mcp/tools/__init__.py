"""MCP tools, grouped into toolsets.

Each toolset module exposes `TOOLS` (`base.Tools`: its functions, each added with its spec by a
decorator); `register_tools` binds each to the services it names (`base.bind`) and adds the ones
the flags allow (`--read-only` drops every tool that writes, `--disable-destructive` every
destructive one) with MCP annotations that say what each does. Tools stay thin: parse arguments,
call the query layer (in a worker thread: the kubernetes client blocks), render.
"""

from __future__ import annotations

import inspect
from typing import Any

from mcp.server import MCPServer
from mcp_types import ToolAnnotations

from k8s_multicluster_mcp.tools import config, core, diagnostics, fleet, listings, workloads, writes
from k8s_multicluster_mcp.tools.base import Registration, Services, ToolSpec, as_tool_errors, bind, enabled

__all__ = ["ALL_TOOLS", "Registration", "Services", "ToolSpec", "register_tools"]

ALL_TOOLS: tuple[ToolSpec, ...] = (
    *core.TOOLS,
    *fleet.TOOLS,
    *workloads.TOOLS,
    *config.TOOLS,
    *listings.TOOLS,
    *diagnostics.TOOLS,
    *writes.TOOLS,
)


def register_tools(server: MCPServer[Any], services: Services, registration: Registration) -> list[str]:
    """Add every enabled tool to `server`; returns their names."""
    names = []
    for spec in ALL_TOOLS:
        if not enabled(spec, registration):
            continue
        fn = as_tool_errors(bind(spec.fn, services))
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
