"""The workloads toolset's rollout tools (jobs and cronjobs listings are in `listings`)."""

from __future__ import annotations

from typing import Annotated

from mcp_types import CallToolResult
from pydantic import Field

from k8s_multicluster_mcp.query import workloads
from k8s_multicluster_mcp.query.objects import ObjectReader
from k8s_multicluster_mcp.render.workloads import (
    RolloutHistoryOutput,
    RolloutStatusOutput,
    render_rollout_history,
    render_rollout_status,
)
from k8s_multicluster_mcp.tools.base import Tools, run_blocking
from k8s_multicluster_mcp.tools.core import ContextArg, NamespaceArg, answer

TypeArg = Annotated[str, Field(description="deployment, daemonset or statefulset.")]
NameArg = Annotated[str, Field(description="Object name.")]

TOOLS = Tools()


@TOOLS.add("k8s_rollout_status", "Rollout status", "workloads")
async def k8s_rollout_status(
    reader: ObjectReader,
    resource_type: TypeArg,
    name: NameArg,
    context: ContextArg = None,
    namespace: NamespaceArg = None,
) -> Annotated[CallToolResult, RolloutStatusOutput]:
    """Rollout status of a deployment, daemonset or statefulset in every selected cluster that
    has it, as kubectl rollout status words it (without waiting)."""
    found, items = await run_blocking(
        workloads.rollout_status, reader, resource_type, name, context, namespace
    )
    return answer(*render_rollout_status(found.clusters, items))


@TOOLS.add("k8s_rollout_history", "Rollout history", "workloads")
async def k8s_rollout_history(
    reader: ObjectReader,
    resource_type: TypeArg,
    name: NameArg,
    context: ContextArg = None,
    namespace: NamespaceArg = None,
) -> Annotated[CallToolResult, RolloutHistoryOutput]:
    """Revision history of a deployment (its ReplicaSets), daemonset or statefulset (its
    ControllerRevisions): revision, change cause, images, which one is current."""
    found, items = await run_blocking(
        workloads.rollout_history, reader, resource_type, name, context, namespace
    )
    return answer(*render_rollout_history(found.clusters, items))
