"""MCP tools, grouped into toolsets.

Each toolset module exposes `TOOLS` (`base.Tools`: its functions, each added with its spec by a
decorator); `register_tools` binds each to the services it names (`base.bind`) and adds the ones
the flags allow (`--read-only` drops every tool that writes, `--disable-destructive` every
destructive one) with MCP annotations that say what each does. Tools stay thin: parse arguments,
call the query layer (in a worker thread: the kubernetes client blocks), render.

The toolset modules (and the renderers and output models they import) load on the first call of
`all_tools`, which the server makes at the first `tools/list` or `tools/call`, not at start:
importing them was most of what `initialize` cost beyond a bare MCPServer.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any

from mcp.server import MCPServer
from mcp_types import ToolAnnotations

from k8s_multicluster_mcp.tools import permissions
from k8s_multicluster_mcp.tools.base import Registration, Services, ToolSpec, as_tool_errors, bind, enabled

__all__ = ["ALL_TOOLS", "Registration", "Services", "ToolSpec", "all_tools", "register_tools"]

TOOLSET_MODULES = ("core", "fleet", "workloads", "config", "listings", "diagnostics", "writes")
"""The modules holding the tools, in the order `tools/list` shows them."""


@functools.cache
def all_tools() -> tuple[ToolSpec, ...]:
    """Every tool of every toolset module, imported now (once)."""
    return tuple(
        spec for name in TOOLSET_MODULES for spec in importlib.import_module(f"{__name__}.{name}").TOOLS
    )


def __getattr__(name: str) -> Any:
    if name == "ALL_TOOLS":
        return all_tools()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_tools(server: MCPServer[Any], services: Services, registration: Registration) -> list[str]:
    """Add every enabled tool to `server`; returns their names."""
    from k8s_multicluster_mcp.tools.confirm import confirmed  # with the toolsets: not at start

    names = []
    for spec in all_tools():
        if not enabled(spec, registration):
            continue
        fn = as_tool_errors(bind(spec.fn, services))
        if spec.destructive or spec.destructive_if:
            fn = confirmed(fn, spec, services.writer, required=registration.require_confirmation)
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
            meta=permissions.meta(spec.name),
        )
        names.append(spec.name)
    return names
