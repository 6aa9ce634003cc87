"""Events, logs, resource use and application diagnosis, for the model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel

from k8s_multicluster_mcp.common.clock import age, utcnow
from k8s_multicluster_mcp.common.text import one_line, safe_lines
from k8s_multicluster_mcp.model.records import EventRecord
from k8s_multicluster_mcp.query import diagnostics
from k8s_multicluster_mcp.query.fleet import FailingPod
from k8s_multicluster_mcp.query.results import ClusterReport
from k8s_multicluster_mcp.render.base import ClusterOut, more_line, provenance, table


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


def render_events(
    clusters: Sequence[ClusterReport],
    answered: Sequence[ClusterReport],
    events: Sequence[EventRecord],
    limit: int,
) -> tuple[str, EventsOutput]:
    """Events newest first, at most `limit`, with how many more there were."""
    now = utcnow()
    shown = events[:limit]
    output = EventsOutput(
        clusters=[ClusterOut.of(c, now) for c in clusters],
        total=len(events),
        shown=len(shown),
        items=[_event_out(e) for e in shown],
    )
    lines = provenance(clusters, now)
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
    elif answered:
        lines.append("No events found.")
    if len(events) > len(shown):
        lines.append(more_line(Counter(e.context for e in events[limit:]), len(events) - len(shown)))
    return "\n".join(lines), output


class LogsOutput(BaseModel):
    clusters: list[ClusterOut]
    pod: str
    container: str | None = None
    truncated: bool = False
    text: str | None = None


def render_logs(
    logs: diagnostics.Logs | None, report: ClusterReport, pod: str, container: str | None
) -> tuple[str, LogsOutput]:
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
    return "\n".join(lines), output


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


def render_usage(
    usage: Sequence[diagnostics.Usage], reports: Sequence[ClusterReport], limit: int, pods: bool
) -> tuple[str, UsageOutput]:
    """Usage rows, heaviest first, at most `limit`."""
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
    return "\n".join(lines), output


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


def render_diagnosis(d: diagnostics.Diagnosis) -> tuple[str, DiagnosisOutput]:
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
    return "\n".join(lines), output
