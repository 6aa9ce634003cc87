"""The core read toolset: contexts, namespaces, nodes, and pods/deployments/nodes/namespaces by kind.

Names and parameters keep those of the original k8s-multicluster-mcp (`context`, `kind`,
`namespace`, `name`, `group`, `version`), so existing prompts keep working; `context` may now
also be omitted (every cluster), a glob (`prod-*`) or a comma-separated list.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, BeforeValidator, Field

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.errors import UnknownKindError, UserError
from k8s_multicluster_mcp.model.kinds import Kind, parse_kind
from k8s_multicluster_mcp.query import cluster
from k8s_multicluster_mcp.query.objects import ObjectReader
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.render.base import ClusterOut, provenance
from k8s_multicluster_mcp.render.cache import CacheStatusOutput, render_cache_status
from k8s_multicluster_mcp.render.cluster import (
    ApisOutput,
    ClusterInfoOutput,
    render_apis,
    render_cluster_info,
)
from k8s_multicluster_mcp.render.contexts import ContextsOutput, render_contexts
from k8s_multicluster_mcp.render.lists import ListOutput, detail, render_list
from k8s_multicluster_mcp.render.objects import (
    ObjectsOutput,
    dump,
    render_describe,
    render_objects,
    render_table,
)
from k8s_multicluster_mcp.tools.base import Tools, ask, no_bool, run_blocking

MAX_LIMIT = 1000

ContextArg = Annotated[
    str | list[str] | None,
    Field(description="Context name, part, glob ('prod-*') or list; omit for all."),
]
OneContextArg = Annotated[
    str | None, Field(description="One context: name or unique part (omit if only one).")
]
NamespaceArg = Annotated[str | None, Field(description="Namespace; omit for all.")]
SelectorArg = Annotated[str | None, Field(description="Label selector, e.g. 'app=web,tier!=db'.")]
LimitArg = Annotated[int, BeforeValidator(no_bool), Field(description=f"Most rows (1-{MAX_LIMIT}).")]
KindArg = Annotated[
    str,
    Field(description="Any served kind, e.g. pods, deploy, foos.example.com."),
]
GroupArg = Annotated[str | None, Field(description="API group ('core', 'apps', ...).")]
VersionArg = Annotated[str | None, Field(description="API version.")]
OutputArg = Annotated[
    Literal["yaml", "json"] | None,
    Field(
        description="Whole object as yaml or json; omit for a summary of pods/deployments/nodes/namespaces."
    ),
]


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise UserError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def cached_kind(kind: str, group: str | None = None, version: str | None = None) -> Kind | None:
    """The query layer's kind `kind` names (pods, deployments, nodes, namespaces: answered by
    the watch cache in --watch mode), or None for any other kind (read live via discovery)."""
    try:
        parsed = parse_kind(kind)
    except UnknownKindError:
        return None
    groups = ("apps",) if parsed is Kind.DEPLOYMENT else ("", "core")
    if group is not None and group.strip().lower() not in groups:
        return None
    if version is not None and version.strip() not in ("v1", ""):
        return None
    return parsed


def answer(
    text: str, structured: BaseModel | dict[str, Any], *, exclude_none: bool = True, failed: bool = False
) -> CallToolResult:
    """A tool result: the compact text for the model, and the same answer as structured content.

    A cluster that fails never fails the call; when no cluster asked could answer, the result is
    a tool error (`isError`), still naming each cluster and why. `exclude_none=False` keeps every
    field of every item (null when unknown): the fleet tools' item fields are an interface.
    `failed`: the call did not do what was asked even though its cluster answered (a write whose
    every object failed). `structured` may be given as JSON already (a hot answer built without a
    model instance; the SDK validates it against the tool's output model either way).
    """
    content = (
        structured
        if isinstance(structured, dict)
        else structured.model_dump(mode="json", exclude_none=exclude_none)
    )
    clusters = content.get("clusters") or []
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=content,
        is_error=failed or (bool(clusters) and not any(c["status"] in ("ok", "stale") for c in clusters)),
    )


TOOLS = Tools()


@TOOLS.add("k8s_get_contexts", "List Kubernetes contexts", "core")
async def k8s_get_contexts(state: ClusterState) -> Annotated[CallToolResult, ContextsOutput]:
    """Every usable kubeconfig context (all files): file, API server, auth, last status; plus
    unreadable kubeconfig files and names defined in several files."""
    inventory = await ask(state.registry.inventory)
    return answer(*render_contexts(inventory, state.last_reports, state.registry.no_contexts_message()))


@TOOLS.add("k8s_get_namespaces", "List namespaces", "core")
async def k8s_get_namespaces(
    state: ClusterState, context: ContextArg = None, limit: LimitArg = 200
) -> Annotated[CallToolResult, ListOutput]:
    """List namespaces in one, several or all clusters."""
    check_limit(limit)
    result = await ask(state.namespaces, context)
    return answer(*render_list(result, limit))


@TOOLS.add("k8s_get_nodes", "List nodes", "core")
async def k8s_get_nodes(
    state: ClusterState, context: ContextArg = None, label_selector: SelectorArg = None, limit: LimitArg = 200
) -> Annotated[CallToolResult, ListOutput]:
    """List nodes (status Ready/NotReady, roles, version, IP, age) in one, several or all clusters."""
    check_limit(limit)
    result = await ask(state.nodes, context, label_selector)
    return answer(*render_list(result, limit))


@TOOLS.add("k8s_get_resources", "List resources by kind", "core")
async def k8s_get_resources(
    state: ClusterState,
    reader: ObjectReader,
    kind: KindArg,
    context: ContextArg = None,
    namespace: NamespaceArg = None,
    label_selector: SelectorArg = None,
    limit: LimitArg = 100,
    group: GroupArg = None,
    version: VersionArg = None,
) -> Annotated[CallToolResult, ListOutput]:
    """List objects of any kind (CRDs too) across clusters as a compact table with the columns
    kubectl prints, and per-cluster provenance."""
    check_limit(limit)
    cached = cached_kind(kind, group, version)
    if cached is not None:
        result = await ask(state.list, cached, context, namespace, label_selector)
        return answer(*render_list(result, limit))
    table = await run_blocking(
        reader.table,
        kind,
        context,
        namespace,
        label_selector,
        limit=limit,
        group=group,
        version=version,
    )
    return answer(*render_table(table, limit))


@TOOLS.add("k8s_get_resource", "Get one resource", "core")
async def k8s_get_resource(
    state: ClusterState,
    reader: ObjectReader,
    kind: KindArg,
    name: Annotated[str, Field(description="Object name.")],
    context: ContextArg = None,
    namespace: NamespaceArg = None,
    group: GroupArg = None,
    version: VersionArg = None,
    output: OutputArg = None,
) -> Annotated[CallToolResult, ObjectsOutput]:
    """Show one object of any kind by name, from every selected cluster that has it (YAML,
    managedFields dropped, Secret values and sensitive env values redacted)."""
    cached = cached_kind(kind, group, version)
    if cached is not None and output is None:
        result = await ask(state.get, cached, name, context, namespace)
        now = utcnow()
        objects = [detail(r) for r in result.items]
        structured = ObjectsOutput(
            kind=cached.value, clusters=[ClusterOut.of(c, now) for c in result.clusters], objects=objects
        )
        lines = provenance(result.clusters, now)
        if objects:
            lines.append(dump(objects if len(objects) > 1 else objects[0]))
        return answer("\n".join(lines), structured)
    found = await run_blocking(reader.get, kind, name, context, namespace, group=group, version=version)
    return answer(*render_objects(found, kind, output or "yaml"))


@TOOLS.add("k8s_cache_status", "Watch cache status", "core")
async def k8s_cache_status(
    state: ClusterState, context: ContextArg = None
) -> Annotated[CallToolResult, CacheStatusOutput]:
    """The --watch cache per context and kind: synced, healthy, objects, last event, relists,
    reconnects, last error, memory (in on-demand mode: off)."""
    status = state.cache_status()
    wanted = {c.name for c in await ask(state.registry.resolve, context)} if status else set()
    return answer(*render_cache_status(status, wanted))


@TOOLS.add("k8s_describe", "Describe resources", "core")
async def k8s_describe(
    reader: ObjectReader,
    resource_type: KindArg,
    name: Annotated[str | None, Field(description="Object name; omit for objects matching selector.")] = None,
    context: ContextArg = None,
    namespace: NamespaceArg = None,
    selector: SelectorArg = None,
    all_namespaces: Annotated[bool, Field(description="Ignore namespace.")] = False,
) -> Annotated[CallToolResult, ObjectsOutput]:
    """Describe objects of any kind like kubectl describe: metadata, owner, spec and status,
    and the newest events (at most 10 objects per cluster; secret values redacted)."""
    found = await run_blocking(
        reader.get,
        resource_type,
        name,
        context,
        None if all_namespaces else namespace,
        label_selector=selector,
        events=True,
    )
    return answer(*render_describe(found, resource_type))


@TOOLS.add("k8s_cluster_info", "Cluster info", "core")
async def k8s_cluster_info(
    state: ClusterState, reader: ObjectReader, context: ContextArg = None
) -> Annotated[CallToolResult, ClusterInfoOutput]:
    """API server address, Kubernetes version, node count (ready/total) and namespace count
    of each selected cluster."""
    found, reports = await run_blocking(cluster.cluster_info, state, reader, context)
    return answer(*render_cluster_info(found, reports))


@TOOLS.add("k8s_apis", "Served API groups and kinds", "core")
async def k8s_apis(reader: ObjectReader, context: ContextArg = None) -> Annotated[CallToolResult, ApisOutput]:
    """The API groups, versions and kinds each selected cluster serves (CRDs included)."""
    groups, reports = await run_blocking(cluster.api_groups, reader, context)
    return answer(*render_apis(groups, reports))


@TOOLS.add("k8s_crds", "Custom resource definitions", "core")
async def k8s_crds(
    reader: ObjectReader, context: ContextArg = None, limit: LimitArg = 200
) -> Annotated[CallToolResult, ListOutput]:
    """Custom resource definitions in each selected cluster: name, kind, scope, versions, age."""
    check_limit(limit)
    crds = await run_blocking(cluster.crds, reader, context, limit)
    return answer(*render_table(crds, limit))
