"""MCP tools, grouped into toolsets.

Each toolset module exposes `TOOLS`, a list of `ToolSpec`; `register_tools` adds the ones the
settings allow (`--read-only` drops every tool that writes, `--disable-destructive` every
destructive one) with MCP annotations that say what each does. Tools stay thin: parse arguments,
call the query layer (in a worker thread: the kubernetes client blocks), render.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from k8s_multicluster_mcp.errors import UserError
from k8s_multicluster_mcp.query import ClusterState
from k8s_multicluster_mcp.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class ToolSpec:
    """A tool and what it may do to a cluster."""

    name: str
    title: str
    toolset: str
    make: Callable[[ClusterState], Callable[..., Awaitable[Any]]]
    writes: bool = False
    destructive: bool = False
    idempotent: bool = True


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking query code (the kubernetes client blocks) in a worker thread."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def user_errors_as_tool_errors(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Bad input becomes a one-line tool error for the model, never a traceback."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except UserError as exc:
            raise ToolError(str(exc)) from exc

    return wrapper


def enabled(spec: ToolSpec, settings: Settings) -> bool:
    if settings.read_only and spec.writes:
        return False
    return not (settings.disable_destructive and spec.destructive)


def register_tools(server: MCPServer[Any], state: ClusterState, settings: Settings) -> list[str]:
    """Add every enabled tool to `server`; returns their names."""
    from k8s_multicluster_mcp.tools import core

    names = []
    for spec in core.TOOLS:
        if not enabled(spec, settings):
            continue
        fn = user_errors_as_tool_errors(spec.make(state))
        server.add_tool(
            fn,
            name=spec.name,
            title=spec.title,
            description=fn.__doc__,
            annotations=ToolAnnotations(
                title=spec.title,
                read_only_hint=not spec.writes,
                destructive_hint=spec.destructive,
                idempotent_hint=spec.idempotent,
                open_world_hint=True,
            ),
        )
        names.append(spec.name)
    return names
