"""Fleet questions: failing pods, per-cluster summaries, unhealthy deployments, node problems,
pod search and drift, over any source through `ClusterState`.

Query layer: pure functions of the records `ClusterState` returns and the clock, so the same
question gives the same items in on-demand and watch mode. Tools call these and render.
"""

from __future__ import annotations

import fnmatch
import heapq
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.errors import NotFoundError
from k8s_multicluster_mcp.common.names import check_name, check_namespace
from k8s_multicluster_mcp.common.text import shown
from k8s_multicluster_mcp.model import triage
from k8s_multicluster_mcp.model.changes import Change, events_as_changes
from k8s_multicluster_mcp.model.failing import Failing, FailingSet, FailingView, Placed
from k8s_multicluster_mcp.model.health import (
    deployment_needs_attention,
    node_needs_attention,
    node_readiness,
    tally,
)
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.podfilter import Owner, PodFilter
from k8s_multicluster_mcp.model.records import DeploymentRecord, NodeRecord, PodRecord, Record
from k8s_multicluster_mcp.query.access import Scope
from k8s_multicluster_mcp.query.results import ClusterReport, ContextSpec, FleetResult
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


def _failing_pod(context: str, failing: Failing, now: datetime) -> FailingPod:
    pod, failure = failing.pod, failing.failure
    # Positional (in field order): a question builds one per pod it names.
    return FailingPod(
        context, pod.namespace, pod.name, failure.reason, pod.phase, failing.restarts, pod.node,
        failing.owner, _seconds(now, pod.created), failure.message(now), failure.since,
    )  # fmt: skip


def _by_context(items: Sequence[Record]) -> dict[str, list[Record]]:
    grouped: dict[str, list[Record]] = {}
    for item in items:
        grouped.setdefault(item.context, []).append(item)
    return grouped


def _failing_views(result: FleetResult[Record], now: datetime, rules: triage.Rules) -> dict[str, FailingView]:
    """Each answering cluster's failing pods: kept by the source (the watch cache), or the
    listed pods classified here; the same `FailingSet` either way."""
    views = dict(result.failing)
    listed = _by_context(result.items)
    for report in result.clusters:
        if report.status in ("ok", "stale") and report.context not in views:
            pods = [p for p in listed.get(report.context, ()) if isinstance(p, PodRecord)]
            views[report.context] = FailingSet.of(pods, now, rules)
    return views


@dataclass(frozen=True)
class FailingAnswer(FleetAnswer[FailingPod]):
    """The first `limit` failing pods (`items`) and every failing pod counted."""

    by_reason: dict[str, int] = field(default_factory=dict)
    by_context: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_context.values())


def failing_pods(
    state: ClusterState,
    context: ContextSpec = None,
    namespace: str | None = None,
    label_selector: str | None = None,
    reasons: Sequence[str] | None = None,
    now: datetime | None = None,
    limit: int | None = None,
) -> FailingAnswer:
    """The failing pods of the selected clusters, most severe first, then most recent: the first
    `limit` (all when None) with their messages as of `now`, and every one counted."""
    result = state.list(Kind.POD, context, namespace, label_selector, keeps="attention")
    now = now or utcnow()
    wanted = [r.strip() for r in reasons or () if r.strip()]
    picked = {
        ctx: view.pick(now, state.rules, wanted or None, limit)
        for ctx, view in _failing_views(result, now, state.rules).items()
    }
    # Each cluster's picks are in order: a lazy merge looks at about `limit` of them, not all.
    merged = heapq.merge(*(_labelled(p.pods, ctx) for ctx, p in picked.items()))
    items = [_failing_pod(place[2], failing, now) for place, failing in itertools.islice(merged, limit)]
    by_reason: Counter[str] = Counter()
    for p in picked.values():
        by_reason.update(p.by_reason)
    by_context = {ctx: n for ctx, p in picked.items() if (n := sum(p.by_reason.values()))}
    notes = []
    unknown = sorted(r for r in {w.lower() for w in wanted} if r.removeprefix("init:") not in _KNOWN)
    if unknown and not by_context:
        notes.append(
            f"no pod has reason {', '.join(shown(r) for r in unknown)}; reasons used: "
            + ", ".join(sorted(triage.WAITING_REASONS | _NAMED))
        )
    return FailingAnswer(items, result.clusters, notes, dict(by_reason), by_context)


def _labelled(
    pods: Iterable[Placed], context: str
) -> Iterator[tuple[tuple[int, float, str, str, str], Failing]]:
    """Picks under the name of the context asked (a store may serve several that see alike), each
    with its place in the fleet's order: the cluster's order with the context between the time
    and the name. The places are unique (one cluster answers once), so nothing else is compared."""
    for (severity, since, name, namespace), failing in pods:
        yield (severity, since, context, name, namespace), failing


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
    """One report for a cluster asked several lists: ok if any answered; what failed is a note;
    standing for every other context any of the lists' answers stood for."""
    names = {r.context for r in reports} | {a for r in reports for a in r.also}
    answered = [r for r in reports if r.status == "ok"]
    if not answered:
        return replace(reports[0], also=tuple(sorted(names - {reports[0].context})))
    failed = [
        f"{kind}: {r.status} — {r.error}" for kind, r in zip(kinds, reports, strict=True) if r.status != "ok"
    ]
    notes = [r.note for r in answered if r.note] + failed
    first = answered[0]
    # Built, not `replace`d: a row per cluster, 100 in a summary of 100 clusters.
    return ClusterReport(
        first.context, first.status, first.source,
        as_of=min((r.as_of for r in answered if r.as_of), default=None),
        error=first.error, count=0, note="; ".join(dict.fromkeys(notes)) or None,
        also=tuple(sorted(names - {first.context})) if len(names) > 1 else (),
    )  # fmt: skip


def _tallies(result: FleetResult[Record]) -> dict[str, Mapping[str, int]]:
    """Each answering cluster's `health.tally` counts: kept by the source, or counted here."""
    tallies = dict(result.tallies)
    for ctx, items in _by_context(result.items).items():
        if ctx not in tallies:
            tallies[ctx] = Counter(key for item in items for key in tally(item))
    return tallies


def summary(
    state: ClusterState, context: ContextSpec = None, now: datetime | None = None
) -> FleetAnswer[ClusterSummary]:
    """Per cluster: nodes, pods by phase, failing pods by reason, deployments."""
    nodes, pods, deployments = (
        state.list(kind, context, keeps="counts") for kind in (Kind.NODE, Kind.POD, Kind.DEPLOYMENT)
    )
    now = now or utcnow()
    counted = {kind: _tallies(result) for kind, result in ((Kind.NODE, nodes), (Kind.POD, pods),
                                                             (Kind.DEPLOYMENT, deployments))}  # fmt: skip
    failing = _failing_views(pods, now, state.rules)
    out, reports = [], []
    for row in _rows(state, pods, nodes, deployments):
        p_report, n_report, d_report = (row.get(k) for k in (Kind.POD, Kind.NODE, Kind.DEPLOYMENT))
        present = [
            (k, r) for k, r in (("pods", p_report), ("nodes", n_report), ("deployments", d_report)) if r
        ]
        report = _merge([r for _, r in present], [k for k, _ in present])
        # One ClusterSummary built once per row (`replace` per kind cost 8 ms at 100 clusters).
        fields: dict[str, object] = {}
        if n_report is not None and n_report.status == "ok":
            n = counted[Kind.NODE].get(n_report.context, {})
            total, ready = n.get("node", 0), n.get("ready", 0)
            fields.update(nodes=total, nodes_ready=ready, nodes_not_ready=total - ready,
                          nodes_cordoned=n.get("cordoned", 0))  # fmt: skip
        if p_report is not None and p_report.status == "ok":
            fields["pods_by_phase"] = {
                phase: count for phase, count in counted[Kind.POD].get(p_report.context, {}).items() if count
            }
            fields["failing_by_reason"] = failing[p_report.context].pick(now, state.rules, limit=0).by_reason
        if d_report is not None and d_report.status == "ok":
            d = counted[Kind.DEPLOYMENT].get(d_report.context, {})
            total, degraded = d.get("deployment", 0), d.get("degraded", 0)
            fields.update(deployments=total, deployments_available=total - degraded,
                          deployments_degraded=degraded)  # fmt: skip
        out.append(ClusterSummary(report.context, **fields))  # type: ignore[arg-type]
        reports.append(report)
    return FleetAnswer(out, reports)


def _rows(state: ClusterState, *results: FleetResult[Record]) -> list[dict[Kind, ClusterReport]]:
    """The summary's rows: one per cluster, with the report of each kind's list. The contexts of
    one cluster may answer different kinds (the admin's pods list failed, its viewer's did not):
    still one row. Where one kind's answer is several contexts' namespaces, each is its own row."""
    every = state.registry.inventory().contexts
    clusters: dict[str, str] = {}
    for result in results:
        for r in result.clusters:
            if r.context not in clusters:
                ctx = every.get(r.context)
                clusters[r.context] = ctx.cluster_key if ctx and ctx.cluster_key else f"context:{r.context}"

    rows: dict[str, dict[Kind, ClusterReport]] = {}
    for result in results:
        seen = Counter(clusters[r.context] for r in result.clusters)
        for r in result.clusters:
            key = clusters[r.context]
            rows.setdefault(key if seen[key] == 1 else f"context:{r.context}", {})[result.kind] = r
    return list(rows.values())


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
    result = state.list(Kind.DEPLOYMENT, context, namespace, label_selector, keeps="attention")
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
    result = state.list(Kind.NODE, context, keeps="attention")
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


@dataclass(frozen=True)
class FoundAnswer(FleetAnswer[FoundPod]):
    """The first `limit` matching pods (`items`) and every match counted per cluster."""

    by_context: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_context.values())


def _found_pod(pod: PodRecord, now: datetime) -> FoundPod:
    ready, total = pod.ready_count
    return FoundPod(pod.context, pod.namespace, pod.name, pod.phase, f"{ready}/{total}", pod.restarts,
                    [c.image for c in pod.containers if not c.init], pod.node, triage.owner(pod),
                    _seconds(now, pod.created))  # fmt: skip


def _name_test(name: str | None) -> Callable[[str], bool] | None:
    """`name` as a test of a pod name: a glob when it has `*?[`, else a substring; None: any."""
    if not name:
        return None
    if set(name) & set("*?["):
        return re.compile(fnmatch.translate(name)).match  # type: ignore[return-value]
    return lambda pod_name: name in pod_name


def find_pods(
    state: ClusterState,
    context: ContextSpec = None,
    namespace: str | None = None,
    name: str | None = None,
    label_selector: str | None = None,
    image: str | None = None,
    node: str | None = None,
    phase: str | None = None,
    owner: str | None = None,
    now: datetime | None = None,
    limit: int | None = None,
) -> FoundAnswer:
    """Pods matching every given filter: `name` a substring or glob, `image` a substring, `owner`
    `Kind/name` or a name (`podfilter.Owner`). Node, phase and owner go to the source as a
    `PodFilter` (answered from the watch cache's indexes, or field selectors live) and are
    applied here again, so the answer is the same whichever source answered; name and image are
    one pass over what it returns that builds rows for the first `limit` matches (all when None)
    and counts the others. Each cluster's `count` is its matches."""
    wanted = PodFilter(
        node=check_name(node.strip(), "node") if node and node.strip() else None,
        owner=Owner.parse(owner) if owner and owner.strip() else None,
        phase=phase.strip() if phase and phase.strip() else None,
    )
    result = state.pods(context, namespace, label_selector, pod_filter=wanted or None)
    now = now or utcnow()
    named = _name_test(name)
    items: list[FoundPod] = []
    counts: Counter[str] = Counter()
    for pod in result.items:
        if (
            isinstance(pod, PodRecord)
            and (not wanted or wanted.matches(pod))
            and (named is None or named(pod.name))
            and (not image or any(image in c.image for c in pod.containers if not c.init))
        ):
            counts[pod.context] += 1
            if limit is None or len(items) < limit:
                items.append(_found_pod(pod, now))
    clusters = [
        replace(c, count=counts[c.context]) if c.status in ("ok", "stale") else c for c in result.clusters
    ]
    return FoundAnswer(items, clusters, by_context=dict(counts))


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
    # Provenance only (which contexts the cache answers for): the counts are enough.
    pods = state.list(Kind.POD, context, namespace, keeps="counts")
    cached = {c.context for c in pods.clusters if c.status in ("ok", "stale") and c.source == "cache"}
    notes = [
        f"{c.context}: its watch is not synced yet; changes are known from when it is"
        for c in pods.clusters
        if c.status == "ok" and c.source != "cache"
    ]
    # The watch cache keeps one set of watches for contexts of the same cluster and credentials,
    # and its journal names one of them: read the changes of each asked context's alikes too.
    every = state.registry.inventory().contexts
    asked = {every[n].identity_key: n for n in cached if n in every and every[n].identity_key}
    alike = {c.name: asked[c.identity_key] for c in every.values() if c.identity_key in asked}
    alike |= {name: name for name in cached}
    items = [
        c if alike[c.context] == c.context else replace(c, context=alike[c.context])
        for c in state.journal.since(since, set(alike), check_namespace(namespace))
    ]
    return FleetAnswer(_visible(state, items, sorted(cached)), pods.clusters, notes), "watch"


_JOURNALED = {kind.singular: kind for kind in (Kind.POD, Kind.DEPLOYMENT, Kind.NODE)}


def _visible(state: ClusterState, changes: list[Change], contexts: Sequence[str]) -> list[Change]:
    """The changes the acting caller may list the objects of (all without one): the journal is
    the server's, like the cache it follows."""
    kinds = {_JOURNALED[c.kind] for c in changes if c.kind in _JOURNALED}
    scopes = {kind: state.scopes(kind, contexts) for kind in kinds}
    if all(found is None for found in scopes.values()):
        return changes

    def may_see(change: Change) -> bool:
        kind = _JOURNALED.get(change.kind)
        found = (scopes.get(kind) or {}).get(change.context) if kind is not None else None
        return isinstance(found, Scope) and found.allows(change.namespace or None)

    return [c for c in changes if may_see(c)]


__all__ = [
    "Change",
    "ClusterSummary",
    "DeploymentCopy",
    "Drift",
    "FailingAnswer",
    "FailingPod",
    "FleetAnswer",
    "FoundAnswer",
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
