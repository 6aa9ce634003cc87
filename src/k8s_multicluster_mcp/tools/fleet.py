"""The fleet toolset: one call answers a question about every cluster, compactly, with each
cluster's freshness stated. Thin: arguments, the query layer (`fleet`), the renderer."""

from __future__ import annotations

from typing import Annotated

from mcp_types import CallToolResult
from pydantic import BeforeValidator, Field

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.common.text import shown
from k8s_multicluster_mcp.model.podfilter import PHASES
from k8s_multicluster_mcp.query import fleet
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.render import fleet as render_fleet
from k8s_multicluster_mcp.tools.base import Tools, ask, no_bool
from k8s_multicluster_mcp.tools.core import (
    MAX_LIMIT,
    ContextArg,
    NamespaceArg,
    SelectorArg,
    answer,
    check_limit,
)

FleetLimitArg = Annotated[
    int,
    BeforeValidator(no_bool),
    Field(description=f"Most items to return (1-{MAX_LIMIT}); all are counted."),
]
MAX_MINUTES = 24 * 60


TOOLS = Tools()


@TOOLS.add("k8s_fleet_failing_pods", "Failing pods everywhere", "fleet", output_schema=True)
async def k8s_fleet_failing_pods(
    state: ClusterState,
    context: ContextArg = None,
    namespace: NamespaceArg = None,
    label_selector: SelectorArg = None,
    reasons: Annotated[
        list[str] | None,
        Field(description="Only these reasons, e.g. ['CrashLoopBackOff', 'OOMKilled', 'Pending']."),
    ] = None,
    limit: FleetLimitArg = 50,
) -> Annotated[CallToolResult, render_fleet.FailingPodsOutput]:
    """Failing pods in every selected cluster, classified as kubectl names them (CrashLoopBackOff,
    ImagePullBackOff, OOMKilled, Evicted, Unschedulable, Pending, NotReady, Restarting, ...),
    most severe first, with owner, node, restarts, message; counted by reason and cluster."""
    check_limit(limit)
    found = await ask(fleet.failing_pods, state, context, namespace, label_selector, reasons, None, limit)
    return answer(*render_fleet.failing_pods(found, limit))


@TOOLS.add("k8s_fleet_summary", "Fleet summary", "fleet", output_schema=True)
async def k8s_fleet_summary(
    state: ClusterState,
    context: ContextArg = None,
) -> Annotated[CallToolResult, render_fleet.SummaryOutput]:
    """One line per cluster: nodes (ready, cordoned), pods by phase, failing pods by reason,
    deployments fully available; plus fleet totals."""
    found = await ask(fleet.summary, state, context)
    return answer(*render_fleet.summary(found), exclude_none=False)


@TOOLS.add("k8s_fleet_unhealthy_deployments", "Unhealthy deployments", "fleet", output_schema=True)
async def k8s_fleet_unhealthy_deployments(
    state: ClusterState,
    context: ContextArg = None,
    namespace: NamespaceArg = None,
    label_selector: SelectorArg = None,
    limit: FleetLimitArg = 50,
) -> Annotated[CallToolResult, render_fleet.FleetOutput[fleet.UnhealthyDeployment]]:
    """Deployments short of their desired available replicas, stalled (Progressing=False, e.g.
    ProgressDeadlineExceeded), paused, or with a generation not yet observed: desired/ready/
    available/updated, images and the condition message."""
    check_limit(limit)
    found = await ask(fleet.unhealthy_deployments, state, context, namespace, label_selector)
    return answer(*render_fleet.unhealthy_deployments(found, limit), exclude_none=False)


@TOOLS.add("k8s_fleet_node_problems", "Node problems", "fleet", output_schema=True)
async def k8s_fleet_node_problems(
    state: ClusterState, context: ContextArg = None, limit: FleetLimitArg = 50
) -> Annotated[CallToolResult, render_fleet.FleetOutput[fleet.NodeProblem]]:
    """Nodes NotReady or Unknown (kubelet stopped posting status), under memory/disk/PID pressure,
    with the network unavailable, or cordoned; since when."""
    check_limit(limit)
    found = await ask(fleet.node_problems, state, context)
    return answer(*render_fleet.node_problems(found, limit), exclude_none=False)


@TOOLS.add("k8s_fleet_find_pods", "Find pods across the fleet", "fleet", output_schema=True)
async def k8s_fleet_find_pods(
    state: ClusterState,
    context: ContextArg = None,
    namespace: NamespaceArg = None,
    name: Annotated[str | None, Field(description="Part of the pod name, or a glob like 'web-*'.")] = None,
    label_selector: SelectorArg = None,
    image: Annotated[str | None, Field(description="Part of any container image, e.g. 'nginx:1.25'.")] = None,
    node: Annotated[str | None, Field(description="Node name.")] = None,
    phase: Annotated[str | None, Field(description="Pending, Running, Succeeded, Failed or Unknown.")] = None,
    limit: FleetLimitArg = 50,
    owner: Annotated[
        str | None,
        Field(
            description="The pods' controller: 'Kind/name' ('ReplicaSet/web-7d9f', 'StatefulSet/db'; "
            "'Deployment/web' means the pods of web's ReplicaSets, told by their pod-template-hash "
            "label) or a name alone (any kind)."
        ),
    ] = None,
) -> Annotated[CallToolResult, render_fleet.FleetOutput[fleet.FoundPod]]:
    """Pods across the fleet matching every filter given (name, labels, image, node, phase, owner)."""
    check_limit(limit)
    if phase is not None and phase.strip().capitalize() not in PHASES:
        raise UserError(f"unknown phase {shown(phase)}; valid: {', '.join(PHASES)}")
    found = await ask(
        fleet.find_pods, state, context, namespace, name, label_selector, image, node, phase, owner,
        limit=limit,
    )  # fmt: skip
    return answer(*render_fleet.found_pods(found, limit), exclude_none=False)


@TOOLS.add(
    "k8s_fleet_compare_deployment", "Compare a deployment across clusters", "fleet", output_schema=True
)
async def k8s_fleet_compare_deployment(
    state: ClusterState,
    name: Annotated[str, Field(description="Deployment name.")],
    namespace: NamespaceArg = None,
    context: ContextArg = None,
) -> Annotated[CallToolResult, render_fleet.CompareOutput]:
    """The same Deployment in every selected cluster: present or not, images per container,
    desired/ready replicas, resource requests/limits, revision; and `drift`, every field that
    differs across clusters with its value in each."""
    found, drift = await ask(fleet.compare_deployment, state, name, namespace, context)
    return answer(*render_fleet.compare(name, found, drift), exclude_none=False)


@TOOLS.add("k8s_fleet_recent_changes", "Recent changes", "fleet", output_schema=True)
async def k8s_fleet_recent_changes(
    state: ClusterState,
    minutes: Annotated[
        float, BeforeValidator(no_bool), Field(description=f"How far back to look (1-{MAX_MINUTES}).")
    ] = 30,
    context: ContextArg = None,
    namespace: NamespaceArg = None,
    limit: FleetLimitArg = 50,
) -> Annotated[CallToolResult, render_fleet.ChangesOutput]:
    """What changed in the last `minutes`: pods that started failing or recovered, restarts
    that rose, rollouts started/finished/stalled, node readiness (--watch journal, else Events)."""
    check_limit(limit)
    if not 1 <= minutes <= MAX_MINUTES:
        raise UserError(f"minutes must be between 1 and {MAX_MINUTES}, got {minutes:g}")
    found, source = await ask(fleet.recent_changes, state, minutes, context, namespace)
    return answer(*render_fleet.changes(found, source, minutes, limit), exclude_none=False)
