"""What each cluster is: its version and size, the APIs it serves, its CRDs. Query-layer
functions behind k8s_cluster_info, k8s_apis and k8s_crds."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.errors import ClusterError
from k8s_multicluster_mcp.kube import api
from k8s_multicluster_mcp.kube.discovery import ResourceType
from k8s_multicluster_mcp.query.objects import ObjectReader, TableResult
from k8s_multicluster_mcp.query.results import ClusterReport, ContextSpec
from k8s_multicluster_mcp.query.state import ClusterState


@dataclass(frozen=True)
class ClusterInfo:
    context: str
    server: str | None = None
    version: str | None = None
    platform: str | None = None
    nodes: int | None = None
    nodes_ready: int | None = None
    namespaces: int | None = None


def cluster_info(
    state: ClusterState, reader: ObjectReader, context: ContextSpec
) -> tuple[list[ClusterInfo], list[ClusterReport]]:
    """Per cluster: API server, /version, nodes (ready/total) and namespaces; a count is None
    where its list did not answer."""
    contexts, versions, reports = reader.call(
        context,
        lambda ctx, _: api.get_json(reader.client(ctx), "/version", timeout=reader.timeout),
        what="reading /version",
    )
    nodes, namespaces = state.nodes(context), state.namespaces(context)
    node_answered = {c.context for c in nodes.clusters if c.status == "ok"}
    ns_answered = {c.context for c in namespaces.clusters if c.status == "ok"}
    items = []
    for ctx in contexts:
        answer = versions.get(ctx.name)
        version: dict[str, Any] = answer if isinstance(answer, dict) else {}
        mine = [n for n in nodes.items if n.context == ctx.name]
        items.append(
            ClusterInfo(
                context=ctx.name,
                server=ctx.server,
                version=version.get("gitVersion"),
                platform=version.get("platform"),
                nodes=len(mine) if ctx.name in node_answered else None,
                nodes_ready=sum(n.ready == "True" for n in mine) if ctx.name in node_answered else None,
                namespaces=sum(n.context == ctx.name for n in namespaces.items)
                if ctx.name in ns_answered
                else None,
            )
        )
    return items, reports


@dataclass(frozen=True)
class ApiGroup:
    context: str
    group: str
    """`core` for the legacy group."""
    versions: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


def api_groups(reader: ObjectReader, context: ContextSpec) -> tuple[list[ApiGroup], list[ClusterReport]]:
    """Per cluster, each API group it serves with its versions and kinds, in discovery order."""
    contexts, answers = reader.types(context)
    now = utcnow()
    reports = []
    items: list[ApiGroup] = []
    for ctx in contexts:
        types = answers[ctx.name]
        if isinstance(types, ClusterError):
            reports.append(ClusterReport(ctx.name, types.status, error=types.message))
            continue
        reports.append(ClusterReport(ctx.name, "ok", "live", now, count=len(types)))
        groups: dict[str, ApiGroup] = {}
        for t in types:
            entry = groups.setdefault(t.group, ApiGroup(ctx.name, t.group or "core"))
            if t.version not in entry.versions:
                entry.versions.append(t.version)
            if t.kind not in entry.kinds:
                entry.kinds.append(t.kind)
        items.extend(groups.values())
    return items, reports


CRD_COLUMNS = ("NAME", "KIND", "SCOPE", "VERSIONS", "AGE")


def crds(reader: ObjectReader, context: ContextSpec, limit: int) -> TableResult:
    """The CRDs of each cluster (its table of them) with kind, scope and the versions discovery
    says are served."""
    found = reader.table("customresourcedefinitions.apiextensions.k8s.io", context, limit=limit)
    answered = [c.context for c in found.clusters if c.status == "ok"]
    _, types = reader.types(answered or context)
    served: dict[tuple[str, str], list[ResourceType]] = defaultdict(list)
    for ctx, listed in types.items():
        if not isinstance(listed, ClusterError):
            for t in listed:
                served[(ctx, t.qualified)].append(t)
    rows = []
    for row in found.rows:
        versions = served.get((row.context, row.name), [])
        kind = versions[0].kind if versions else "?"
        scope = ("Namespaced" if versions[0].namespaced else "Cluster") if versions else "?"
        names = ",".join(t.version for t in versions) or "?"
        rows.append(replace(row, cells=(row.name, kind, scope, names, row.cells[-1] if row.cells else "")))
    return replace(found, columns=CRD_COLUMNS, rows=rows, namespaced=False)
