"""The diagnostics toolset: events, pod logs, top nodes/pods, application diagnosis."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, Literal

from mcp_types import CallToolResult
from pydantic import BaseModel, BeforeValidator, Field

from k8s_multicluster_mcp.common.clock import age, utcnow
from k8s_multicluster_mcp.common.text import one_line, safe_lines
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import EventRecord
from k8s_multicluster_mcp.query import diagnostics
from k8s_multicluster_mcp.query.fleet import FailingPod
from k8s_multicluster_mcp.query.objects import ObjectReader
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.render.base import ClusterOut, more_line, provenance, table
from k8s_multicluster_mcp.tools.base import Tools, no_bool, run_blocking
from k8s_multicluster_mcp.tools.core import (
    ContextArg,
    LimitArg,
    NamespaceArg,
    OneContextArg,
    answer,
    check_limit,
)


class EventOut(BaseModel):
    context: str
    namespace: str
    last_seen: str | None = None
    type: str
    reason: str
    object: str
    count: int
    message: str | None = None


class EventsOutput(BaseModel):
    clusters: list[ClusterOut]
    total: int
    shown: int
    items: list[EventOut]


def _event_out(e: EventRecord) -> EventOut:
    return EventOut(
        context=e.context, namespace=e.namespace,
        last_seen=e.last_seen.isoformat() if e.last_seen else None, type=e.type, reason=e.reason,
        object=f"{e.object_kind}/{e.object_name}", count=e.count, message=e.message,
    )  # fmt: skip


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
    result = await run_blocking(state.list, Kind.EVENT, context, namespace)
    kind, _, name = (object or "").rpartition("/")
    events = [
        e for e in result.items
        if isinstance(e, EventRecord)
        and (not name or (e.object_name == name and (not kind or e.object_kind.lower() == kind.lower())))
        and (type is None or e.type == type)
        and (reason is None or e.reason.lower() == reason.lower())
    ]  # fmt: skip
    events.sort(key=lambda e: e.last_seen.isoformat() if e.last_seen else "", reverse=True)
    now = utcnow()
    shown = events[:limit]
    output = EventsOutput(
        clusters=[ClusterOut.of(c, now) for c in result.clusters],
        total=len(events),
        shown=len(shown),
        items=[_event_out(e) for e in shown],
    )
    lines = provenance(result.clusters, now)
    if shown:
        lines.append(
            table(
                ["CONTEXT", "NAMESPACE", "LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"],
                [
                    [e.context, e.namespace, age(e.last_seen, now), e.type, e.reason,
                     f"{e.object_kind}/{e.object_name}", str(e.count), e.message or ""]
                    for e in shown
                ],
            )
        )  # fmt: skip
    elif result.answered:
        lines.append("No events found.")
    if len(events) > len(shown):
        lines.append(more_line(Counter(e.context for e in events[limit:]), len(events) - len(shown)))
    return answer("\n".join(lines), output)


class LogsOutput(BaseModel):
    clusters: list[ClusterOut]
    pod: str
    container: str | None = None
    truncated: bool = False
    text: str | None = None


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
    now = utcnow()
    text = safe_lines(logs.text) if logs else None
    output = LogsOutput(
        clusters=[ClusterOut.of(report, now)], pod=pod, container=container,
        truncated=bool(logs and logs.truncated), text=text,
    )  # fmt: skip
    lines = provenance([report], now)
    if logs is not None:
        lines.append(text or "(no log lines)")
        if logs.truncated:
            lines.append(f"… cut at {diagnostics.LOG_BYTES} bytes; use tail or since for less")
    return answer("\n".join(lines), output)


class UsageOut(BaseModel):
    context: str
    namespace: str | None = None
    name: str
    cpu_cores: float
    memory_bytes: float
    cpu_share: float | None = None
    memory_share: float | None = None


class UsageOutput(BaseModel):
    clusters: list[ClusterOut]
    total: int
    shown: int
    items: list[UsageOut]


def _usage_answer(usage: list[diagnostics.Usage], reports: Any, limit: int, pods: bool) -> CallToolResult:
    now = utcnow()
    shown = usage[:limit]
    output = UsageOutput(
        clusters=[ClusterOut.of(c, now) for c in reports],
        total=len(usage),
        shown=len(shown),
        items=[
            UsageOut(context=u.context, namespace=u.namespace, name=u.name, cpu_cores=round(u.cpu, 4),
                     memory_bytes=u.memory, cpu_share=u.cpu_share, memory_share=u.memory_share)
            for u in shown
        ],
    )  # fmt: skip
    lines = provenance(reports, now)
    if shown:
        headers = ["CONTEXT", *(["NAMESPACE"] if pods else []), "NAME", "CPU", "MEMORY"]
        lines.append(table(headers, diagnostics.describe_usage(shown)))
    if len(usage) > len(shown):
        lines.append(more_line(Counter(u.context for u in usage[limit:]), len(usage) - len(shown)))
    return answer("\n".join(lines), output)


@TOOLS.add("k8s_top_nodes", "Node resource use", "diagnostics")
async def k8s_top_nodes(
    state: ClusterState, reader: ObjectReader, context: ContextArg = None, limit: LimitArg = 200
) -> Annotated[CallToolResult, UsageOutput]:
    """CPU and memory use of nodes (metrics API), with the share of allocatable."""
    check_limit(limit)
    usage, reports = await run_blocking(diagnostics.top_nodes, state, reader, context)
    return _usage_answer(usage, reports, limit, pods=False)


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
    return _usage_answer(usage, reports, limit, pods=True)


class DiagnosisOutput(BaseModel):
    clusters: list[ClusterOut]
    context: str
    kind: str | None = None
    rollout: str | None = None
    rollout_done: bool | None = None
    pods_total: int
    failing: list[FailingPod]
    events: list[EventOut]
    logs: list[dict[str, str | None]]
    findings: list[str]


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
    now = utcnow()
    output = DiagnosisOutput(
        clusters=[ClusterOut.of(c, now) for c in d.reports], context=d.context,
        kind=d.workload.type.kind if d.workload else None, rollout=d.rollout, rollout_done=d.rollout_done,
        pods_total=d.pods_total, failing=d.failing, events=[_event_out(e) for e in d.events],
        logs=[{"pod": p, "container": c, "text": t} for p, c, t in d.logs], findings=d.findings,
    )  # fmt: skip
    lines = provenance(d.reports, now)
    lines.append("Findings:")
    lines.extend(f"- {one_line(f)}" for f in d.findings)
    if d.rollout:
        lines.append(f"Rollout: {one_line(d.rollout)}")
    lines.append(f"Pods: {d.pods_total}, failing: {len(d.failing)}")
    if d.failing:
        lines.append(
            table(["POD", "REASON", "RESTARTS", "NODE", "MESSAGE"],
                  [[f.name, f.reason, str(f.restarts), f.node or "-", f.message or ""]
                   for f in d.failing[:20]])
        )  # fmt: skip
    if d.events:
        lines.append("Events (newest first):")
        lines.append(
            table(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
                  [[age(e.last_seen, now), e.type, e.reason, f"{e.object_kind}/{e.object_name}",
                    e.message or ""] for e in d.events])
        )  # fmt: skip
    for pod, _, text in d.logs:
        lines.append(f"Logs of {one_line(pod)} (last {diagnostics.DIAGNOSE_TAIL} lines):")
        lines.append(safe_lines(text))
    return answer("\n".join(lines), output)
