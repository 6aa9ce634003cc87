"""The original's listing tools for one kind each (roles, PVCs, jobs, ...): one factory, since each
is `k8s_get_resources` for a fixed kind, with the columns kubectl prints for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp_types import CallToolResult

from k8s_multicluster_mcp.query.objects import ObjectReader
from k8s_multicluster_mcp.render.lists import ListOutput
from k8s_multicluster_mcp.render.objects import render_table
from k8s_multicluster_mcp.tools.base import ToolSpec, run_blocking
from k8s_multicluster_mcp.tools.core import (
    ContextArg,
    LimitArg,
    NamespaceArg,
    SelectorArg,
    answer,
    check_limit,
)


def listing(
    name: str, title: str, toolset: str, kind: str, what: str, *, namespaced: bool = True, wide: bool = False
) -> ToolSpec:
    """A tool listing `kind` (a qualified plural) across clusters; `wide`: with the columns
    kubectl shows only with `-o wide` (who a binding binds, for instance)."""

    async def read(
        reader: ObjectReader, context: Any, namespace: str | None, label_selector: str | None, limit: int
    ) -> CallToolResult:
        check_limit(limit)
        found = await run_blocking(
            reader.table, kind, context, namespace, label_selector, limit=limit, wide=wide
        )
        return answer(*render_table(found, limit))

    tool: Callable[..., Awaitable[CallToolResult]]
    if namespaced:

        async def namespaced_tool(
            reader: ObjectReader,
            context: ContextArg = None,
            namespace: NamespaceArg = None,
            label_selector: SelectorArg = None,
            limit: LimitArg = 100,
        ) -> Annotated[CallToolResult, ListOutput]:
            return await read(reader, context, namespace, label_selector, limit)

        tool = namespaced_tool
    else:

        async def cluster_tool(
            reader: ObjectReader, context: ContextArg = None, label_selector: SelectorArg = None,
            limit: LimitArg = 100,
        ) -> Annotated[CallToolResult, ListOutput]:  # fmt: skip
            return await read(reader, context, None, label_selector, limit)

        tool = cluster_tool
    tool.__name__ = tool.__qualname__ = name
    tool.__doc__ = f"List {what} across clusters, as kubectl prints them."
    return ToolSpec(name, title, toolset, tool)


TOOLS = [
    listing(
        "k8s_list_secret", "List secrets", "config", "secrets", "secrets (type and key count; never values)"
    ),
    listing("k8s_list_configmap", "List configmaps", "config", "configmaps", "configmaps"),
    listing("k8s_get_roles", "List roles", "rbac", "roles.rbac.authorization.k8s.io", "roles"),
    listing(
        "k8s_get_clusterroles", "List cluster roles", "rbac", "clusterroles.rbac.authorization.k8s.io",
        "cluster roles", namespaced=False,
    ),
    listing(
        "k8s_get_rolebindings", "List role bindings", "rbac", "rolebindings.rbac.authorization.k8s.io",
        "role bindings (role, users, groups, service accounts)", wide=True,
    ),
    listing(
        "k8s_get_clusterrolebindings", "List cluster role bindings", "rbac",
        "clusterrolebindings.rbac.authorization.k8s.io",
        "cluster role bindings (role, users, groups, service accounts)", namespaced=False, wide=True,
    ),
    listing(
        "k8s_get_service_accounts", "List service accounts", "rbac", "serviceaccounts", "service accounts"
    ),
    listing("k8s_get_pvcs", "List PVCs", "storage", "persistentvolumeclaims", "persistent volume claims"),
    listing(
        "k8s_get_pvs", "List PVs", "storage", "persistentvolumes", "persistent volumes", namespaced=False
    ),
    listing(
        "k8s_get_storage_classes", "List storage classes", "storage", "storageclasses.storage.k8s.io",
        "storage classes", namespaced=False,
    ),
    listing(
        "k8s_get_network_policies", "List network policies", "network",
        "networkpolicies.networking.k8s.io", "network policies",
    ),
    listing("k8s_get_jobs", "List jobs", "workloads", "jobs.batch", "jobs (completions, duration)"),
    listing(
        "k8s_get_cronjobs", "List cron jobs", "workloads", "cronjobs.batch", "cron jobs (schedule, last run)"
    ),
]  # fmt: skip
