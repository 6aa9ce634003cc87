"""Fleet questions: failing pods, per-cluster summaries, unhealthy deployments, node problems,
pod search and drift, over any source through `ClusterState`.

Query layer: pure functions of the records `ClusterState` returns and the clock, so the same
question gives the same items in on-demand and watch mode. Tools call these and render.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Generic, Literal, TypeVar

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.errors import NotFoundError
from k8s_multicluster_mcp.common.names import check_name, check_namespace
from k8s_multicluster_mcp.common.text import shown
from k8s_multicluster_mcp.model import triage
from k8s_multicluster_mcp.model.changes import Change, events_as_changes
from k8s_multicluster_mcp.model.health import deployment_needs_attention, node_needs_attention, node_readiness
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import DeploymentRecord, NodeRecord, PodRecord
from k8s_multicluster_mcp.query.results import ClusterReport, ContextSpec
from k8s_multicluster_mcp.query.state import ClusterState

T = TypeVar("T")
ChangeSource = Literal["watch", "events"]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class FleetAnswer(Generic[T]):
    """Every matching item, sorted, and how each cluster answered."""

    items: list[T]
    clusters: Sequence[ClusterReport]
    notes: list[str] = field(default_factory=list)


def _seconds(now: datetime, when: datetime | None) -> float | None:
    return round((now - when).total_seconds(), 1) if when else None


# -- failing pods ------------------------------------------------------------------------------


@dataclass(slots=True)
class FailingPod:
    context: str
    namespace: str
    name: str
    reason: str
    phase: str
    restarts: int
    node: str | None = None
    owner: str | None = None
    age_seconds: float | None = None
    message: str | None = None
    since: datetime | None = None


def _failing(pods: Sequence[PodRecord], now: datetime, rules: triage.Rules) -> list[FailingPod]:
    out = []
    for pod in pods:
        failure = triage.classify(pod, now, rules)
        if failure is None:
            continue
        out.append(
            FailingPod(
                context=pod.context, namespace=pod.namespace, name=pod.name, reason=failure.reason,
                phase=pod.phase, restarts=pod.restarts, node=pod.node, owner=triage.owner(pod),
                age_seconds=_seconds(now, pod.created), message=failure.message, since=failure.since,
            )
        )  # fmt: skip
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    severity = {reason: triage.severity(reason) for reason in {f.reason for f in out}}
    out.sort(key=lambda f: (severity[f.reason], -(f.since or oldest).timestamp(), f.context, f.name))
    return out


def failing_pods(
    state: ClusterState,
    context: ContextSpec = None,
    namespace: str | None = None,
    label_selector: str | None = None,
    reasons: Sequence[str] | None = None,
    now: datetime | None = None,
) -> FleetAnswer[FailingPod]:
    """Every failing pod in the selected clusters, most severe first, then most recent."""
    result = state.list(Kind.POD, context, namespace, label_selector, attention_only=True)
    now = now or utcnow()
    items = _failing([p for p in result.items if isinstance(p, PodRecord)], now, state.rules)
    notes = []
    if reasons:
        wanted = {r.strip().lower() for r in reasons if r.strip()}
        items = [f for f in items if f.reason.lower() in wanted]
        unknown = sorted(r for r in wanted if r.removeprefix("init:") not in _KNOWN)
        if unknown and not items:
            notes.append(
                f"no pod has reason {', '.join(shown(r) for r in unknown)}; reasons used: "
                + ", ".join(sorted(triage.WAITING_REASONS | _NAMED))
            )
    return FleetAnswer(items, result.clusters, notes)


_NAMED = frozenset({"OOMKilled", "Evicted", "Failed", "Error", "Unschedulable", "Pending", "NotReady",
                    "Terminating", "Restarting"})  # fmt: skip
_KNOWN = frozenset(r.lower() for r in triage.WAITING_REASONS | _NAMED)


# -- summary -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterSummary:
    context: str
    nodes: int | None = None
    nodes_ready: int | None = None
    nodes_not_ready: int | None = None
    nodes_cordoned: int | None = None
    pods_by_phase: dict[str, int] | None = None
    failing_by_reason: dict[str, int] | None = None
    deployments: int | None = None
    deployments_available: int | None = None
    deployments_degraded: int | None = None


def _merge(reports: Sequence[ClusterReport], kinds: Sequence[str]) -> ClusterReport:
    """One report for a cluster asked several lists: ok if any answered; what failed is a note."""
    answered = [r for r in reports if r.status == "ok"]
    if not answered:
        return reports[0]
    failed = [
        f"{kind}: {r.status} — {r.error}" for kind, r in zip(kinds, reports, strict=True) if r.status != "ok"
    ]
    notes = [r.note for r in answered if r.note] + failed
    oldest = min((r.as_of for r in answered if r.as_of), default=None)
    return replace(answered[0], as_of=oldest, note="; ".join(dict.fromkeys(notes)) or None, count=0)


def summary(
    state: ClusterState, context: ContextSpec = None, now: datetime | None = None
) -> FleetAnswer[ClusterSummary]:
    """Per cluster: nodes, pods by phase, failing pods by reason, deployments."""
    nodes, pods, deployments = state.nodes(context), state.pods(context), state.deployments(context)
    now = now or utcnow()
    out, reports = [], []
    for n_report, p_report, d_report in zip(nodes.clusters, pods.clusters, deployments.clusters, strict=True):
        name = p_report.context
        item = ClusterSummary(name)
        if n_report.status == "ok":
            mine = [n for n in nodes.items if n.context == name and isinstance(n, NodeRecord)]
            ready = sum(n.ready == "True" for n in mine)
            cordoned = sum(n.unschedulable for n in mine)
            item = replace(item, nodes=len(mine), nodes_ready=ready, nodes_not_ready=len(mine) - ready,
                           nodes_cordoned=cordoned)  # fmt: skip
        if p_report.status == "ok":
            mine_pods = [p for p in pods.items if p.context == name and isinstance(p, PodRecord)]
            failing = Counter(f.reason for f in _failing(mine_pods, now, state.rules))
            item = replace(
                item, pods_by_phase=dict(Counter(p.phase for p in mine_pods)), failing_by_reason=dict(failing)
            )
        if d_report.status == "ok":
            mine_d = [d for d in deployments.items if d.context == name and isinstance(d, DeploymentRecord)]
            degraded = sum(deployment_needs_attention(d) for d in mine_d)
            item = replace(item, deployments=len(mine_d), deployments_available=len(mine_d) - degraded,
                           deployments_degraded=degraded)  # fmt: skip
        out.append(item)
        reports.append(_merge([p_report, n_report, d_report], ["pods", "nodes", "deployments"]))
    return FleetAnswer(out, reports)


# -- deployments and nodes -----------------------------------------------------------------------


@dataclass(frozen=True)
class UnhealthyDeployment:
    context: str
    namespace: str
    name: str
    problems: list[str]
    desired: int
    ready: int
    available: int
    updated: int
    images: list[str]
    message: str | None = None


def deployment_problems(d: DeploymentRecord) -> list[str]:
    problems = []
    if d.available_replicas < d.replicas:
        problems.append(f"available {d.available_replicas}/{d.replicas}")
    stalled = next((c for c in d.conditions if c.type == "Progressing" and c.status == "False"), None)
    if stalled is not None:
        problems.append(stalled.reason or "not progressing")
    if d.paused:
        problems.append("paused")
    if d.observed_generation < d.generation:
        problems.append(f"generation {d.generation} not yet observed")
    if not problems and d.unavailable_replicas:
        problems.append(f"{d.unavailable_replicas} unavailable")
    return problems


def unhealthy_deployments(
    state: ClusterState,
    context: ContextSpec = None,
    namespace: str | None = None,
    label_selector: str | None = None,
) -> FleetAnswer[UnhealthyDeployment]:
    result = state.list(Kind.DEPLOYMENT, context, namespace, label_selector, attention_only=True)
    items = []
    for d in result.items:
        if not isinstance(d, DeploymentRecord) or not deployment_needs_attention(d):
            continue
        condition = next((c for c in d.conditions if c.status == "False" and c.message), None) or next(
            (c for c in d.conditions if c.type == "Progressing"), None
        )
        items.append(
            UnhealthyDeployment(
                context=d.context, namespace=d.namespace, name=d.name, problems=deployment_problems(d),
                desired=d.replicas, ready=d.ready_replicas, available=d.available_replicas,
                updated=d.updated_replicas, images=[c.image for c in d.containers if not c.init],
                message=condition.message if condition else None,
            )
        )  # fmt: skip
    items.sort(key=lambda u: (u.available - u.desired, u.context, u.namespace, u.name))
    return FleetAnswer(items, result.clusters)


@dataclass(frozen=True)
class NodeProblem:
    context: str
    name: str
    problems: list[str]
    since: datetime | None = None
    since_seconds: float | None = None
    kubelet_version: str | None = None


_PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def node_problems(
    state: ClusterState, context: ContextSpec = None, now: datetime | None = None
) -> FleetAnswer[NodeProblem]:
    result = state.list(Kind.NODE, context, attention_only=True)
    now = now or utcnow()
    items = []
    for node in result.items:
        if not isinstance(node, NodeRecord) or not node_needs_attention(node):
            continue
        problems: list[str] = []
        since: datetime | None = None
        ready = next((c for c in node.conditions if c.type == "Ready"), None)
        readiness = node_readiness(node)
        if readiness != "Ready":
            problems.append(
                readiness if readiness == "NotReady" else "Unknown (kubelet stopped posting status)"
            )
            since = ready.last_transition if ready else None
        for c in node.conditions:
            if c.type in _PRESSURE and c.status == "True":
                problems.append(c.type)
                since = min((t for t in (since, c.last_transition) if t), default=None)
        if node.unschedulable:
            problems.append("cordoned")
        items.append(
            NodeProblem(node.context, node.name, problems, since, _seconds(now, since), node.kubelet_version)
        )
    items.sort(key=lambda p: (p.problems[0] == "cordoned", p.context, p.name))
    return FleetAnswer(items, result.clusters)


# -- search ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FoundPod:
    context: str
    namespace: str
    name: str
    phase: str
    ready: str
    restarts: int
    images: list[str]
    node: str | None = None
    owner: str | None = None
    age_seconds: float | None = None


def find_pods(
    state: ClusterState,
    context: ContextSpec = None,
    namespace: str | None = None,
    name: str | None = None,
    label_selector: str | None = None,
    image: str | None = None,
    node: str | None = None,
    phase: str | None = None,
    now: datetime | None = None,
) -> FleetAnswer[FoundPod]:
    """Pods matching every given filter: `name` a substring or glob, `image` a substring."""
    result = state.pods(context, namespace, label_selector)
    now = now or utcnow()
    glob = bool(name and set(name) & set("*?["))
    items = []
    for pod in result.items:
        if not isinstance(pod, PodRecord):
            continue
        if name and not (fnmatch.fnmatchcase(pod.name, name) if glob else name in pod.name):
            continue
        images = [c.image for c in pod.containers if not c.init]
        if image and not any(image in i for i in images):
            continue
        if node and pod.node != node:
            continue
        if phase and pod.phase.lower() != phase.lower():
            continue
        ready, total = pod.ready_count
        found = FoundPod(pod.context, pod.namespace, pod.name, pod.phase, f"{ready}/{total}", pod.restarts,
                         images, pod.node, triage.owner(pod), _seconds(now, pod.created))  # fmt: skip
        items.append(found)
    return FleetAnswer(items, result.clusters)


# -- drift ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentCopy:
    """One cluster's copy of a deployment (or its absence)."""

    context: str
    present: bool
    images: dict[str, str] = field(default_factory=dict)
    desired: int | None = None
    ready: int | None = None
    requests: dict[str, dict[str, str]] = field(default_factory=dict)
    limits: dict[str, dict[str, str]] = field(default_factory=dict)
    revision: str | None = None
    strategy: str | None = None
    paused: bool | None = None


@dataclass(frozen=True)
class Drift:
    field: str
    values: dict[str, object]
    """The value in each cluster that answered ('absent' where the deployment does not exist)."""


def _copy(context: str, d: DeploymentRecord | None) -> DeploymentCopy:
    if d is None:
        return DeploymentCopy(context, present=False)
    main = [c for c in d.containers if not c.init]
    return DeploymentCopy(
        context, True, images={c.name: c.image for c in main}, desired=d.replicas, ready=d.ready_replicas,
        requests={c.name: dict(c.requests) for c in main}, limits={c.name: dict(c.limits) for c in main},
        revision=d.revision, strategy=d.strategy, paused=d.paused,
    )  # fmt: skip


def _flat(copy: DeploymentCopy) -> dict[str, object]:
    """The comparable fields of one copy, one key each: `image[app]`, `limits[app].memory`, …"""
    flat: dict[str, object] = {"replicas": copy.desired, "strategy": copy.strategy, "paused": copy.paused}
    for container, image in copy.images.items():
        flat[f"image[{container}]"] = image
    for label, section in (("requests", copy.requests), ("limits", copy.limits)):
        for container, resources in section.items():
            for resource, value in resources.items():
                flat[f"{label}[{container}].{resource}"] = value
    return flat


def _drift(copies: Sequence[DeploymentCopy]) -> list[Drift]:
    """Every field whose value is not the same in every cluster (a missing field counts as '-')."""
    out = []
    presence = {c.context: c.present for c in copies}
    if len(set(presence.values())) > 1:
        out.append(Drift("present", dict(presence)))
    flats = {c.context: _flat(c) for c in copies if c.present}
    keys = dict.fromkeys(k for flat in flats.values() for k in flat)
    for key in keys:
        values = {context: flat.get(key, "-") for context, flat in flats.items()}
        if len({repr(v) for v in values.values()}) > 1:
            out.append(Drift(key, values))
    return out


def compare_deployment(
    state: ClusterState, name: str, namespace: str | None = None, context: ContextSpec = None
) -> tuple[FleetAnswer[DeploymentCopy], list[Drift]]:
    """The deployment `name` in every selected cluster, and every field that differs."""
    check_name(name, "Deployment")
    result = state.deployments(context, namespace)
    found: dict[str, DeploymentRecord] = {}
    namespaces = set()
    for d in result.items:
        if d.name == name and isinstance(d, DeploymentRecord):
            found.setdefault(d.context, d)
            namespaces.add(d.namespace)
    answered = [c.context for c in result.clusters if c.status == "ok"]
    if not found and answered:
        where = f" in namespace {namespace!r}" if namespace else ""
        raise NotFoundError(
            f"deployment {name!r} not found{where} in any cluster that answered ({', '.join(answered)})"
        )
    copies = [_copy(c, found.get(c)) for c in answered]
    notes = (
        [f"found in several namespaces ({', '.join(sorted(namespaces))}); give `namespace`"]
        if len(namespaces) > 1
        else []
    )
    return FleetAnswer(copies, result.clusters, notes), _drift(copies)


# -- recent changes --------------------------------------------------------------------------------


def recent_changes(
    state: ClusterState,
    minutes: float,
    context: ContextSpec = None,
    namespace: str | None = None,
    now: datetime | None = None,
) -> tuple[FleetAnswer[Change], ChangeSource]:
    """What changed in the last `minutes`, newest first, and where that was learned: the watch
    journal (watch mode) or the Events API (on-demand mode)."""
    now = now or utcnow()
    since = now - timedelta(minutes=minutes)
    if state.journal is None:
        events = state.list(Kind.EVENT, context, namespace)
        return FleetAnswer(events_as_changes(events.items, since), events.clusters), "events"
    pods = state.pods(context, namespace)  # provenance: which contexts the cache answers for
    cached = {c.context for c in pods.clusters if c.status in ("ok", "stale") and c.source == "cache"}
    notes = [
        f"{c.context}: its watch is not synced yet; changes are known from when it is"
        for c in pods.clusters
        if c.status == "ok" and c.source != "cache"
    ]
    items = state.journal.since(since, cached, check_namespace(namespace))
    return FleetAnswer(items, pods.clusters, notes), "watch"


__all__ = [
    "Change",
    "ClusterSummary",
    "DeploymentCopy",
    "Drift",
    "FailingPod",
    "FleetAnswer",
    "FoundPod",
    "NodeProblem",
    "UnhealthyDeployment",
    "compare_deployment",
    "deployment_problems",
    "failing_pods",
    "find_pods",
    "node_problems",
    "recent_changes",
    "summary",
    "unhealthy_deployments",
]
