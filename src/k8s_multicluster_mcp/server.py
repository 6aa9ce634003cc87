"""Assemble the MCP server: registry, source, query layer, tools."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server import MCPServer

from k8s_multicluster_mcp import __version__
from k8s_multicluster_mcp.kubeconfig import ContextRegistry
from k8s_multicluster_mcp.query import ClusterState
from k8s_multicluster_mcp.settings import Settings
from k8s_multicluster_mcp.sources import LiveSource
from k8s_multicluster_mcp.tools import register_tools

log = logging.getLogger(__name__)

INSTRUCTIONS = """\
Answers questions about many Kubernetes clusters (kubeconfig contexts) at once.
Tools take `context`: omit it for every cluster, or give a name, a unique part of one, a glob
('prod-*') or a comma-separated list. Every answer starts with how many clusters answered, whether
the data is live or cached and how old it is; a cluster that did not answer is named with the
reason (unreachable, forbidden, auth-error, timeout) while the others still answer.
Start with k8s_get_contexts to see the clusters."""


def build_registry(settings: Settings, *, directory_explicit: bool = False) -> ContextRegistry:
    return ContextRegistry(
        directory=settings.kubeconfig_dir,
        directory_explicit=directory_explicit,
        files=settings.kubeconfig,
        env_files=settings.kubeconfig_env,
        allow=settings.contexts,
    )


def build_state(settings: Settings, registry: ContextRegistry) -> ClusterState:
    source = LiveSource(
        registry,
        timeout=settings.request_timeout,
        ttl=settings.cache_ttl,
        max_workers=settings.max_workers,
    )
    return ClusterState(registry, source)


def build_server(settings: Settings, state: ClusterState) -> MCPServer[Any]:
    """The MCP server with every tool the settings allow; it never contacts a cluster to start."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.source.close()
            state.registry.close()

    server: MCPServer[Any] = MCPServer(
        "k8s-multicluster-mcp",
        title="Kubernetes multi-cluster",
        instructions=INSTRUCTIONS,
        version=__version__,
        website_url="https://github.com/razvanmacovei/k8s-multicluster-mcp",
        log_level=settings.log_level,
        lifespan=lifespan,
    )
    names = register_tools(server, state, settings)
    log.info("registered %d tools: %s", len(names), ", ".join(names))
    return server
