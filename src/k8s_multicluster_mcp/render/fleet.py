"""Answers of the fleet tools: structured output (pydantic models over the query layer's items) and
compact text sized for a model: the provenance lines, a line of totals, a table of at most
`limit` rows, and how many more were left out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from k8s_multicluster_mcp.common.clock import age, duration, utcnow
from k8s_multicluster_mcp.common.text import format_names, one_line
from k8s_multicluster_mcp.model.changes import Change
from k8s_multicluster_mcp.query.fleet import (
    ClusterSummary,
    DeploymentCopy,
    Drift,
    FailingAnswer,
    FailingPod,
    FleetAnswer,
    FoundAnswer,
    FoundPod,
    NodeProblem,
    UnhealthyDeployment,
)
from k8s_multicluster_mcp.render.base import ClusterOut, more_line, provenance, table

T = TypeVar("T")
MESSAGE_CELL = 80


class FleetOutput(BaseModel, Generic[T]):
    """Per-cluster provenance, every match counted (`total`), the first `shown` returned."""

    clusters: list[ClusterOut]
    total: int
    shown: int
    items: list[T]
    notes: list[str] = []


class FailingPodItem(BaseModel):
    """A failing pod as a program needs it: which pod, why, how often it restarted, what owns it
    and where it runs. The message, the pod's phase and its age are for a reader: they are in the
    text (the MESSAGE and AGE columns), not repeated here, so a client that passes the model only
    the structured content stays as lean as one that passes only the text."""

    context: str
    namespace: str
    name: str
    reason: str
    restarts: int
    owner: str | None = None
    node: str | None = None


class FailingPodsOutput(FleetOutput[FailingPodItem]):
    """Every failing pod counted (`total`, `by_reason`, `by_context`), the first `shown` named."""

    by_reason: dict[str, int]
    by_context: dict[str, int]


class SummaryOutput(FleetOutput[ClusterSummary]):
    totals: ClusterSummary


class CompareOutput(FleetOutput[DeploymentCopy]):
    name: str
    drift: list[Drift]


class ChangesOutput(FleetOutput[Change]):
    minutes: float
    source: Literal["watch", "events"]


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _head(answer: FleetAnswer[T], now: datetime) -> tuple[list[ClusterOut], list[str]]:
    clusters = [ClusterOut.of(c, now) for c in answer.clusters]
    return clusters, [*provenance(answer.clusters, now), *(one_line(n) for n in answer.notes)]


def _more(hidden: Counter[str], hint: str) -> list[str]:
    """The line naming, per cluster, what matched and was not shown."""
    total = hidden.total()
    return [more_line(hidden, total, hint=hint)] if total > 0 else []


def _listing(
    answer: FleetAnswer[T],
    limit: int,
    now: datetime,
    *,
    headers: Sequence[str],
    row: Callable[[T], Sequence[str]],
    heading: Sequence[str],
    empty: str,
    hint: str,
    counted: Counter[str] | None = None,
) -> tuple[str, list[ClusterOut], list[T]]:
    """The shape every fleet list shares: provenance, the heading lines, a table of the first
    `limit` items, and what was left out; `empty` when nothing matched in the clusters that answered.
    `counted`: every match per cluster, where `answer.items` holds only the first ones."""
    clusters, lines = _head(answer, now)
    shown = answer.items[:limit]
    if answer.items:
        every = counted if counted is not None else Counter(getattr(i, "context", "?") for i in answer.items)
        hidden = every - Counter(getattr(i, "context", "?") for i in shown)
        lines += [*heading, table(headers, [row(i) for i in shown]), *_more(hidden, hint)]
    elif any(c.status in ("ok", "stale") for c in clusters) and empty:
        lines.append(empty)
    return "\n".join(lines), clusters, shown


def _counts(counter: Counter[str] | dict[str, int], top: int = 8) -> str:
    pairs = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k} {v}" for k, v in pairs[:top])
    return text + (", …" if len(pairs) > top else "")


def _failing_item(f: FailingPod) -> dict[str, Any]:
    """A `FailingPodItem` as JSON."""
    return {
        "context": f.context, "namespace": f.namespace, "name": f.name, "reason": f.reason,
        "restarts": f.restarts, "owner": f.owner, "node": f.node,
    }  # fmt: skip


def _failing_row(f: FailingPod) -> tuple[str, ...]:
    # A tuple: `table` formats each row from one, and a list would be copied into one.
    return (
        f.context,
        f.namespace,
        f.name,
        f.reason,
        str(f.restarts),
        duration(f.age_seconds),
        f.owner or "-",
        f.node or "-",
        one_line(f.message or "", MESSAGE_CELL),
    )


def failing_pods(
    answer: FailingAnswer, limit: int, now: datetime | None = None
) -> tuple[str, dict[str, Any]]:
    """The text, and the structured content as JSON in `FailingPodsOutput`'s shape. Built without
    a model instance: the SDK validates every structured answer against the tool's output model
    (`FailingPodsOutput`), so validating and dumping one here did it twice (a quarter of
    rendering 120 pods); `tests/render/test_fleet.py` holds the two equal."""
    by_reason, by_context = Counter(answer.by_reason), Counter(answer.by_context)
    heading = [f"{_plural(answer.total, 'failing pod')}: {_counts(by_reason)}"]
    if len(by_context) > 1:
        heading.append(f"by cluster: {_counts(by_context)}")
    text, clusters, shown = _listing(
        answer,
        limit,
        now or utcnow(),
        row=_failing_row,
        heading=heading,
        empty="No failing pods.",
        headers=["CONTEXT", "NAMESPACE", "POD", "REASON", "RESTARTS", "AGE", "OWNER", "NODE", "MESSAGE"],
        hint="raise `limit` or narrow with `reasons`, `namespace` or `context`.",
        counted=by_context,
    )
    structured = {
        "clusters": [c.model_dump(mode="json") for c in clusters], "total": answer.total,
        "shown": len(shown), "items": [_failing_item(f) for f in shown], "notes": list(answer.notes),
        "by_reason": dict(by_reason), "by_context": dict(by_context),
    }  # fmt: skip
    return text, structured


def _summary_cells(s: ClusterSummary) -> list[str]:
    nodes = f"{s.nodes_ready}/{s.nodes} ready" if s.nodes is not None else "-"
    if s.nodes_cordoned:
        nodes += f", {s.nodes_cordoned} cordoned"
    phases = s.pods_by_phase or {}
    pods = (
        "-"
        if s.pods_by_phase is None
        else str(sum(phases.values())) + (f" ({_counts(phases, 4)})" if phases else "")
    )
    failing = s.failing_by_reason or {}
    failing_text = f"{sum(failing.values())}" + (f" ({_counts(failing, 4)})" if failing else "")
    deployments = f"{s.deployments_available}/{s.deployments} available" if s.deployments is not None else "-"
    return [s.context, nodes, pods, failing_text if s.failing_by_reason is not None else "-", deployments]


def _total(items: Sequence[ClusterSummary]) -> ClusterSummary:
    def add(values: list[int | None]) -> int | None:
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    def merge(maps: list[dict[str, int] | None]) -> dict[str, int] | None:
        known = [m for m in maps if m is not None]
        if not known:
            return None
        total: dict[str, int] = {}
        for m in known:  # in place: `sum` of Counters copies the running total at every cluster
            for k, v in m.items():
                total[k] = total.get(k, 0) + v
        return {k: v for k, v in total.items() if v > 0}

    return ClusterSummary(
        context="fleet",
        nodes=add([s.nodes for s in items]),
        nodes_ready=add([s.nodes_ready for s in items]),
        nodes_not_ready=add([s.nodes_not_ready for s in items]),
        nodes_cordoned=add([s.nodes_cordoned for s in items]),
        pods_by_phase=merge([s.pods_by_phase for s in items]),
        failing_by_reason=merge([s.failing_by_reason for s in items]),
        deployments=add([s.deployments for s in items]),
        deployments_available=add([s.deployments_available for s in items]),
        deployments_degraded=add([s.deployments_degraded for s in items]),
    )


def summary(answer: FleetAnswer[ClusterSummary], now: datetime | None = None) -> tuple[str, SummaryOutput]:
    now = now or utcnow()
    clusters, lines = _head(answer, now)
    answered = {c.context for c in clusters if c.status == "ok"}
    items = [s for s in answer.items if s.context in answered]
    totals = _total(items)
    output = SummaryOutput(clusters=clusters, total=len(items), shown=len(items), items=items, totals=totals)
    if items:
        rows = [_summary_cells(s) for s in items]
        if len(items) > 1:
            rows.append(_summary_cells(totals))
        lines.append(table(["CONTEXT", "NODES", "PODS", "FAILING", "DEPLOYMENTS"], rows))
    return "\n".join(lines), output


def _deployment_row(d: UnhealthyDeployment) -> list[str]:
    return [
        d.context,
        d.namespace,
        d.name,
        f"{d.ready}/{d.desired}",
        str(d.updated),
        str(d.available),
        "; ".join(d.problems),
        ",".join(d.images),
        one_line(d.message or "", MESSAGE_CELL),
    ]


def unhealthy_deployments(
    answer: FleetAnswer[UnhealthyDeployment], limit: int, now: datetime | None = None
) -> tuple[str, FleetOutput[UnhealthyDeployment]]:
    text, clusters, shown = _listing(
        answer,
        limit,
        now or utcnow(),
        row=_deployment_row,
        headers=[
            "CONTEXT",
            "NAMESPACE",
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "PROBLEMS",
            "IMAGES",
            "MESSAGE",
        ],
        heading=[f"{_plural(len(answer.items), 'deployment')} not healthy"],
        empty="Every deployment is fully available.",
        hint="raise `limit` or narrow with `namespace` or `context`.",
    )
    return text, FleetOutput[UnhealthyDeployment](
        clusters=clusters, total=len(answer.items), shown=len(shown), items=shown
    )


def _node_row(n: NodeProblem) -> list[str]:
    since = f"{duration(n.since_seconds)} ago" if n.since else "-"
    return [n.context, n.name, ", ".join(n.problems), since, n.kubelet_version or "-"]


def node_problems(
    answer: FleetAnswer[NodeProblem], limit: int, now: datetime | None = None
) -> tuple[str, FleetOutput[NodeProblem]]:
    text, clusters, shown = _listing(
        answer,
        limit,
        now or utcnow(),
        row=_node_row,
        headers=["CONTEXT", "NODE", "PROBLEMS", "SINCE", "VERSION"],
        heading=[],
        empty="No node problems.",
        hint="raise `limit` or narrow with `context`.",
    )
    return text, FleetOutput[NodeProblem](
        clusters=clusters, total=len(answer.items), shown=len(shown), items=shown
    )


def _pod_row(p: FoundPod) -> list[str]:
    return [
        p.context,
        p.namespace,
        p.name,
        p.ready,
        p.phase,
        str(p.restarts),
        duration(p.age_seconds),
        p.node or "-",
        ",".join(p.images),
    ]


def found_pods(
    answer: FoundAnswer, limit: int, now: datetime | None = None
) -> tuple[str, FleetOutput[FoundPod]]:
    count = answer.total
    text, clusters, shown = _listing(
        answer,
        limit,
        now or utcnow(),
        row=_pod_row,
        headers=["CONTEXT", "NAMESPACE", "NAME", "READY", "PHASE", "RESTARTS", "AGE", "NODE", "IMAGES"],
        heading=[f"{_plural(count, 'pod')} match" + ("es" if count == 1 else "")],
        empty="No pod matches.",
        hint="raise `limit` or add filters.",
        counted=Counter(answer.by_context),
    )
    return text, FleetOutput[FoundPod](clusters=clusters, total=count, shown=len(shown), items=shown)


def compare(
    name: str, answer: FleetAnswer[DeploymentCopy], drift: list[Drift], now: datetime | None = None
) -> tuple[str, CompareOutput]:
    now = now or utcnow()
    clusters, lines = _head(answer, now)
    output = CompareOutput(
        clusters=clusters,
        total=len(answer.items),
        shown=len(answer.items),
        items=answer.items,
        notes=answer.notes,
        name=name,
        drift=drift,
    )
    rows = [
        [
            c.context,
            "yes" if c.present else "NO",
            str(c.desired) if c.present else "-",
            str(c.ready) if c.present else "-",
            c.revision or "-",
            ",".join(f"{k}={v}" for k, v in c.images.items()) or "-",
        ]
        for c in answer.items
    ]
    lines.append(table(["CONTEXT", "PRESENT", "REPLICAS", "READY", "REVISION", "IMAGES"], rows))
    if drift:
        lines.append(f"Drift in {len(drift)} field(s):")
        for d in drift:
            values = ", ".join(f"{c}={v}" for c, v in d.values.items())
            lines.append(one_line(f"  {d.field}: {values}", 400))
    else:
        lines.append(f"No drift: {name} is the same in {format_names([c.context for c in answer.items])}.")
    return "\n".join(lines), output


def changes(
    answer: FleetAnswer[Change],
    source: Literal["watch", "events"],
    minutes: float,
    limit: int,
    now: datetime | None = None,
) -> tuple[str, ChangesOutput]:
    now = now or utcnow()
    origin = "the watch journal" if source == "watch" else "the Events API (on-demand mode)"
    heading = f"{_plural(len(answer.items), 'change')} in the last {minutes:g} min, from {origin}"

    def row(c: Change) -> list[str]:
        return [
            f"{age(c.at, now)} ago",
            c.context,
            c.kind,
            c.namespace or "-",
            c.name,
            c.change,
            one_line(c.detail or "", MESSAGE_CELL),
        ]

    text, clusters, shown = _listing(
        answer,
        limit,
        now,
        row=row,
        headers=["WHEN", "CONTEXT", "KIND", "NAMESPACE", "NAME", "CHANGE", "DETAIL"],
        heading=[heading],
        empty=heading,
        hint="raise `limit` or shorten `minutes`.",
    )
    output = ChangesOutput(
        clusters=clusters,
        total=len(answer.items),
        shown=len(shown),
        items=shown,
        notes=answer.notes,
        minutes=minutes,
        source=source,
    )
    return text, output


__all__ = [
    "ChangesOutput",
    "CompareOutput",
    "FailingPodItem",
    "FailingPodsOutput",
    "FleetOutput",
    "SummaryOutput",
    "changes",
    "compare",
    "failing_pods",
    "found_pods",
    "node_problems",
    "summary",
    "unhealthy_deployments",
]
