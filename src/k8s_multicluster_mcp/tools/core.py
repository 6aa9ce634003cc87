"""The core read toolset: contexts, namespaces, nodes, and pods/deployments/nodes/namespaces by kind.

Names and parameters keep those of the original k8s-multicluster-mcp (`context`, `kind`,
`namespace`, `name`, `group`, `version`), so existing prompts keep working; `context` may now
also be omitted (every cluster), a glob (`prod-*`) or a comma-separated list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import yaml
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, BeforeValidator, Field

from k8s_multicluster_mcp.errors import UnknownKindError, UserError
from k8s_multicluster_mcp.query import ClusterState
from k8s_multicluster_mcp.records import Kind, parse_kind, utcnow
from k8s_multicluster_mcp.render import (
    CacheStatusOutput,
    ClusterOut,
    ListOutput,
    detail,
    provenance,
    render_cache_status,
    render_list,
    table,
)
from k8s_multicluster_mcp.text import one_line, shown
from k8s_multicluster_mcp.tools.base import ToolSpec, no_bool, run_blocking

MAX_LIMIT = 1000

ContextArg = Annotated[
    str | list[str] | None,
    Field(
        description="Which clusters: a context name or unique part of one, a glob like 'prod-*', a "
        "comma-separated list, or omit for every context."
    ),
]
NamespaceArg = Annotated[str | None, Field(description="Namespace; omit for all namespaces.")]
SelectorArg = Annotated[
    str | None, Field(description="Label selector, e.g. 'app=web,tier!=db' or 'env in (prod,staging)'.")
]
LimitArg = Annotated[
    int, BeforeValidator(no_bool), Field(description=f"Most rows to return (1-{MAX_LIMIT}).")
]
KindArg = Annotated[str, Field(description="pods (po), deployments (deploy), nodes (no) or namespaces (ns).")]
GroupArg = Annotated[
    str | None, Field(description="API group ('' or 'core' for pods/nodes, 'apps' for deployments).")
]
VersionArg = Annotated[str | None, Field(description="API version ('v1').")]


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise UserError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def resolve_kind(kind: str, group: str | None = None, version: str | None = None) -> Kind:
    """The served kind for `kind` (+ optional group/version as the original tools took them)."""
    parsed = parse_kind(kind)
    groups = ("apps",) if parsed is Kind.DEPLOYMENT else ("", "core")
    if group is not None and group.strip().lower() not in groups:
        raise UnknownKindError(
            f"{parsed.singular} is served from API group {groups[0] or 'core'!r}, not {shown(group)}"
        )
    if version is not None and version.strip() not in ("v1", ""):
        raise UnknownKindError(f"{parsed.singular} is served at version 'v1', not {shown(version)}")
    return parsed


def answer(text: str, structured: BaseModel, *, exclude_none: bool = True) -> CallToolResult:
    """A tool result: the compact text for the model, and the same answer as structured content.

    A cluster that fails never fails the call; when no cluster asked could answer, the result is
    a tool error (`isError`), still naming each cluster and why. `exclude_none=False` keeps every
    field of every item (null when unknown): the fleet tools' item fields are an interface.
    """
    clusters: list[ClusterOut] = getattr(structured, "clusters", None) or []
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=structured.model_dump(mode="json", exclude_none=exclude_none),
        is_error=bool(clusters) and not any(c.status in ("ok", "stale") for c in clusters),
    )


class ContextOut(BaseModel):
    name: str
    cluster: str
    server: str | None = None
    user: str
    auth: str
    namespace: str | None = None
    file: str
    last_status: str | None = None
    last_error: str | None = None


class FileProblemOut(BaseModel):
    file: str
    reason: str


class ContextsOutput(BaseModel):
    contexts: list[ContextOut]
    problems: list[FileProblemOut]
    duplicates: dict[str, list[str]]
    searched: list[str]


class DetailOutput(BaseModel):
    kind: str
    clusters: list[ClusterOut]
    objects: list[dict[str, Any]]


def _contexts_tool(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_get_contexts() -> Annotated[CallToolResult, ContextsOutput]:
        """List every Kubernetes context this server can use (all kubeconfig files), with its file,
        API server, auth method and, when known, whether it answered last time. Also reports
        kubeconfig files that could not be read and context names defined in several files."""
        inventory = await run_blocking(state.registry.inventory)
        last = state.last_reports
        contexts = [
            ContextOut(
                name=c.name,
                cluster=c.cluster,
                server=c.server,
                user=c.user,
                auth=c.auth,
                namespace=c.namespace,
                file=str(c.file),
                last_status=last[c.name].status if c.name in last else None,
                last_error=last[c.name].error if c.name in last else None,
            )
            for c in inventory.contexts.values()
        ]
        output = ContextsOutput(
            contexts=contexts,
            problems=[FileProblemOut(file=str(p.file), reason=p.reason) for p in inventory.problems],
            duplicates={c.raw_name: list(c.names) for c in inventory.collisions},
            searched=list(inventory.searched),
        )
        if not contexts:
            lines = [state.registry.no_contexts_message()]
        else:
            lines = [f"{len(contexts)} context{'s' if len(contexts) != 1 else ''}:"]
            lines.append(
                table(
                    ["NAME", "SERVER", "AUTH", "NAMESPACE", "LAST", "FILE"],
                    [
                        [
                            c.name,
                            c.server or "-",
                            c.auth,
                            c.namespace or "-",
                            c.last_status or "-",
                            Path(c.file).name,
                        ]
                        for c in contexts
                    ],
                )
            )
        for name, names in output.duplicates.items():
            lines.append(one_line(f"Context {name!r} is defined in several files; use: {', '.join(names)}"))
        for problem in output.problems:
            lines.append(one_line(f"Unusable kubeconfig {problem.file}: {problem.reason}"))
        return answer("\n".join(lines), output)

    return k8s_get_contexts


def _namespaces_tool(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_get_namespaces(
        context: ContextArg = None, limit: LimitArg = 200
    ) -> Annotated[CallToolResult, ListOutput]:
        """List namespaces in one, several or all clusters."""
        check_limit(limit)
        result = await run_blocking(state.namespaces, context)
        return answer(*render_list(result, limit))

    return k8s_get_namespaces


def _nodes_tool(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_get_nodes(
        context: ContextArg = None, label_selector: SelectorArg = None, limit: LimitArg = 200
    ) -> Annotated[CallToolResult, ListOutput]:
        """List nodes (status Ready/NotReady, roles, version, IP, age) in one, several or all clusters."""
        check_limit(limit)
        result = await run_blocking(state.nodes, context, label_selector)
        return answer(*render_list(result, limit))

    return k8s_get_nodes


def _resources_tool(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_get_resources(
        kind: KindArg,
        context: ContextArg = None,
        namespace: NamespaceArg = None,
        label_selector: SelectorArg = None,
        limit: LimitArg = 100,
        group: GroupArg = None,
        version: VersionArg = None,
    ) -> Annotated[CallToolResult, ListOutput]:
        """List pods, deployments, nodes or namespaces across clusters as a compact table, with
        per-cluster provenance (which clusters answered, live or cached, how old)."""
        check_limit(limit)
        result = await run_blocking(
            state.list, resolve_kind(kind, group, version), context, namespace, label_selector
        )
        return answer(*render_list(result, limit))

    return k8s_get_resources


def _resource_tool(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_get_resource(
        kind: KindArg,
        name: Annotated[str, Field(description="Object name.")],
        context: ContextArg = None,
        namespace: NamespaceArg = None,
        group: GroupArg = None,
        version: VersionArg = None,
    ) -> Annotated[CallToolResult, DetailOutput]:
        """Show one pod, deployment, node or namespace by name (from every selected cluster that
        has it): containers and their states, images, resources, conditions, owner. Secret values
        and environment variable values are never included."""
        parsed = resolve_kind(kind, group, version)
        result = await run_blocking(state.get, parsed, name, context, namespace)
        now = utcnow()
        objects = [detail(r) for r in result.items]
        output = DetailOutput(
            kind=parsed.value, clusters=[ClusterOut.of(c, now) for c in result.clusters], objects=objects
        )
        lines = provenance(result.clusters, now)
        if objects:
            lines.append(
                yaml.safe_dump(
                    objects if len(objects) > 1 else objects[0], sort_keys=False, width=120
                ).rstrip()
            )
        else:
            lines.append(f"{parsed.singular} {shown(name)} not found in the clusters that answered.")
        return answer("\n".join(lines), output)

    return k8s_get_resource


def _cache_status_tool(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_cache_status(context: ContextArg = None) -> Annotated[CallToolResult, CacheStatusOutput]:
        """Show the watch cache (--watch mode): per context and kind (pods, deployments, nodes)
        whether it is synced and healthy, how many objects it holds, when the last event or
        bookmark came, relists, reconnects, the last error and approximate memory. In on-demand
        mode it says the cache is off."""
        status = state.cache_status()
        wanted = {c.name for c in await run_blocking(state.registry.resolve, context)} if status else set()
        return answer(*render_cache_status(status, wanted))

    return k8s_cache_status


TOOLS = [
    ToolSpec("k8s_get_contexts", "List Kubernetes contexts", "core", _contexts_tool),
    ToolSpec("k8s_get_namespaces", "List namespaces", "core", _namespaces_tool),
    ToolSpec("k8s_get_nodes", "List nodes", "core", _nodes_tool),
    ToolSpec("k8s_get_resources", "List resources by kind", "core", _resources_tool),
    ToolSpec("k8s_get_resource", "Get one resource", "core", _resource_tool),
    ToolSpec("k8s_cache_status", "Watch cache status", "core", _cache_status_tool),
]
