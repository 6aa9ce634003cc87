"""What every tool module builds on: the tool spec and the two wrappers every tool goes through."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError

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
