"""The diagnostics toolset: events, pod logs, top nodes/pods, application diagnosis."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp_types import CallToolResult
from pydantic import BeforeValidator, Field

from k8s_multicluster_mcp.query import diagnostics
from k8s_multicluster_mcp.query.objects import ObjectReader
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.render.diagnostics import (
    DiagnosisOutput,
    EventsOutput,
    LogsOutput,
    UsageOutput,
    render_diagnosis,
    render_events,
    render_logs,
    render_usage,
)
from k8s_multicluster_mcp.tools.base import Tools, no_bool, run_blocking
from k8s_multicluster_mcp.tools.core import (
    ContextArg,
    LimitArg,
    NamespaceArg,
    OneContextArg,
    answer,
    check_limit,
)

TOOLS = Tools()


@TOOLS.add("k8s_get_events", "List events", "diagnostics")
async def k8s_get_events(
    state: ClusterState,
    context: ContextArg = None,
    namespace: NamespaceArg = None,
    limit: LimitArg = 100,
    object: Annotated[str | None, Field(description="Only about this object: name or kind/name.")] = None,
    type: Annotated[Literal["Normal", "Warning"] | None, Field(description="Only this type.")] = None,
    reason: Annotated[str | None, Field(description="Only this reason, e.g. BackOff.")] = None,
) -> Annotated[CallToolResult, EventsOutput]:
    """Events across clusters, newest first: type, reason, object, count, message."""
    check_limit(limit)
    result, events = await run_blocking(diagnostics.events, state, context, namespace, object, type, reason)
    return answer(*render_events(result.clusters, result.answered, events, limit))


@TOOLS.add("k8s_get_pod_logs", "Pod logs", "diagnostics")
async def k8s_get_pod_logs(
    reader: ObjectReader,
    namespace: Annotated[str, Field(description="Namespace.")],
    pod: Annotated[str, Field(description="Pod name.")],
    context: OneContextArg = None,
    container: Annotated[str | None, Field(description="Container; needed if the pod has several.")] = None,
    since: Annotated[str | None, Field(description="Only newer than this, e.g. '10m', '1h'.")] = None,
    tail: Annotated[int, BeforeValidator(no_bool), Field(description="Last lines (1-5000).")] = 100,
    previous: Annotated[bool, Field(description="The previous (crashed) container's logs.")] = False,
    previousContainer: Annotated[bool, Field(description="The original's name for previous.")] = False,
    sinceDuration: Annotated[str | None, Field(description="The original's name for since.")] = None,
) -> Annotated[CallToolResult, LogsOutput]:
    """The last lines of a pod's container log (at most 64 KB), from one cluster."""
    logs, report = await run_blocking(
        diagnostics.pod_logs,
        reader,
        context,
        namespace,
        pod,
        container=container,
        since=since or sinceDuration,
        tail=tail,
        previous=previous or previousContainer,
    )
    return answer(*render_logs(logs, report, pod, container))


@TOOLS.add("k8s_top_nodes", "Node resource use", "diagnostics")
async def k8s_top_nodes(
    state: ClusterState, reader: ObjectReader, context: ContextArg = None, limit: LimitArg = 200
) -> Annotated[CallToolResult, UsageOutput]:
    """CPU and memory use of nodes (metrics API), with the share of allocatable."""
    check_limit(limit)
    usage, reports = await run_blocking(diagnostics.top_nodes, state, reader, context)
    return answer(*render_usage(usage, reports, limit, pods=False))


@TOOLS.add("k8s_top_pods", "Pod resource use", "diagnostics")
async def k8s_top_pods(
    reader: ObjectReader,
    context: ContextArg = None,
    namespace: NamespaceArg = None,
    sort_by: Annotated[Literal["cpu", "memory"], Field(description="Heaviest first by.")] = "cpu",
    limit: LimitArg = 50,
) -> Annotated[CallToolResult, UsageOutput]:
    """CPU and memory use of pods (metrics API), heaviest first."""
    check_limit(limit)
    usage, reports = await run_blocking(diagnostics.top_pods, reader, context, namespace, sort_by)
    return answer(*render_usage(usage, reports, limit, pods=True))


@TOOLS.add("k8s_diagnose_application", "Diagnose an application", "diagnostics")
async def k8s_diagnose_application(
    state: ClusterState,
    reader: ObjectReader,
    namespace: Annotated[str, Field(description="Namespace.")],
    app_name: Annotated[str, Field(description="Workload name.")],
    context: OneContextArg = None,
    resource_type: Annotated[str, Field(description="Workload kind.")] = "deployment",
) -> Annotated[CallToolResult, DiagnosisOutput]:
    """Diagnose an application in one cluster: rollout state, its pods classified (CrashLoop,
    OOMKilled, ...), newest related events, last log lines of failing pods, findings."""
    d = await run_blocking(diagnostics.diagnose, state, reader, context, namespace, app_name, resource_type)
    return answer(*render_diagnosis(d))
