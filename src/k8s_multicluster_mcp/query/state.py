"""The query layer: fleet questions over any `ClusterSource`, with provenance per cluster.

Tools call this and nothing below it. It resolves which clusters a question is about, asks the
source, and returns the records plus, for every cluster, whether it answered, from where and as of
when. It never knows (or asks) whether the source is the watch cache or the live API.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from operator import attrgetter

from k8s_multicluster_mcp.common.caller import Caller, acting
from k8s_multicluster_mcp.common.errors import (
    ClusterError,
    ClusterForbiddenError,
    ClusterStatus,
    NotFoundError,
)
from k8s_multicluster_mcp.common.names import check_name, check_namespace
from k8s_multicluster_mcp.common.selectors import LabelSelector, parse_selector
from k8s_multicluster_mcp.common.text import format_names
from k8s_multicluster_mcp.kube import noblock
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.changes import ChangeJournal
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.failing import FailingView, merged
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.podfilter import PodFilter
from k8s_multicluster_mcp.model.records import (
    DeploymentRecord,
    NamespaceRecord,
    NodeRecord,
    PodRecord,
    Record,
)
from k8s_multicluster_mcp.model.triage import Rules
from k8s_multicluster_mcp.query.access import Access, Scope, denied
from k8s_multicluster_mcp.query.results import (
    ClusterReport,
    ContextSpec,
    FleetResult,
    fallback_namespace,
    namespace_note,
    one_per_cluster,
    report_each,
)
from k8s_multicluster_mcp.sources.base import CacheStatus, ClusterSource, Keeps, Snapshot

_BY_NAMESPACE_AND_NAME = attrgetter("namespace", "name")
_BY_NAME = attrgetter("name")
"""Each cluster's records in (namespace, name) order: C-level keys (a key function in Python
was a tenth of a find by owner over 100k cached pods)."""
ON_THE_LOOP = 5_000
"""Records one answer may sort and filter on the event loop (`noblock`): about 5 ms of work,
as long as a worker thread holding the GIL keeps the loop waiting (`sys.getswitchinterval`).
A larger answer is worked out in a worker thread, where other requests get their turns."""


class ClusterState:
    """Fleet-wide reads of the kinds a source serves (pods, deployments, nodes, namespaces,
    events), from the watch cache or live; `query.objects.ObjectReader` reads any other kind."""

    def __init__(
        self,
        registry: ContextRegistry,
        source: ClusterSource,
        rules: Rules | None = None,
        journal: ChangeJournal | None = None,
        access: Access | None = None,
    ) -> None:
        self.registry = registry
        self.source = source
        self.rules = rules or Rules()
        """Thresholds of failure triage (`--pending-grace`, `--restart-threshold`)."""
        self.journal = journal
        """What the watch stores saw change (watch mode); None in on-demand mode."""
        self.access = access
        """With --authorize-as-caller: what each acting caller may list (None: every answer is
        the server's whole view, as without it)."""
        self.last_reports: dict[str, ClusterReport] = {}
        """The latest report per context, from whatever question touched it last."""

    def list(
        self,
        kind: Kind,
        context: ContextSpec = None,
        namespace: str | None = None,
        label_selector: str | None = None,
        *,
        keeps: Keeps = "all",
        pod_filter: PodFilter | None = None,
    ) -> FleetResult[Record]:
        """Records of `kind` in the selected clusters. `keeps`: what the caller keeps of them
        (`ClusterSource.fetch`: only what `health.needs_attention` accepts, or only counts), so
        a source may return no more; `pod_filter`: only the pods it matches (the source
        may return just those, or more: the caller applies its filters itself)."""
        selector = parse_selector(label_selector)
        scope = check_namespace(namespace) if kind.namespaced else None
        contexts = self.registry.resolve(context)
        caller = acting() if self.access is not None else None
        limits = self._limits(caller, contexts, kind, scope) if caller is not None else {}
        asked = [c for c in contexts if not isinstance(limits.get(c.name), ClusterError)]
        answers = self.source.fetch(asked, kind, scope, selector, keeps, pod_filter) if asked else {}
        _not_too_long(kind, answers)
        answers.update((n, e) for n, e in limits.items() if isinstance(e, ClusterError))
        notes = self._retry_in_context_namespace(asked, kind, scope, selector, answers, keeps, pod_filter)
        narrowed = (
            self._narrow(caller, limits, asked, kind, selector, answers, notes, keeps, pod_filter)
            if caller is not None
            else {}
        )
        items: list[Record] = []
        tallies: dict[str, Mapping[str, int]] = {}
        failing: dict[str, FailingView] = {}

        contexts, also = one_per_cluster(
            contexts, answers, notes, lambda a: isinstance(a, Snapshot) and a.stale
        )
        for name, others in also.items():
            # A cluster answered from a narrower view because a broader one failed says so.
            failed = [f"{o}: {e.status}" for o in others if isinstance(e := answers.get(o), ClusterError)]
            if failed and name in notes:
                notes[name] += "; " + ", ".join(failed)

        def answered(ctx: ContextInfo, answer: Snapshot) -> ClusterReport:
            found = _filter(answer, scope or (ctx.namespace if ctx.name in notes else None), selector)
            if found:  # counts-only answers have none: 100 clusters x 3 kinds in a summary
                order = _BY_NAMESPACE_AND_NAME if kind.namespaced else _BY_NAME
                items.extend(sorted(_as_context(found, ctx.name), key=order))
            if answer.tally is not None and selector is None:
                tallies[ctx.name] = answer.tally
            if answer.failing is not None and selector is None:
                failing[ctx.name] = answer.failing
            note = (
                "; ".join(n for n in (notes.get(ctx.name), narrowed.get(ctx.name), answer.note) if n) or None
            )
            # Stale data is shown because the cluster does not answer: it counts as not answering,
            # and the reason is its error line.
            status: ClusterStatus = "stale" if answer.stale else "ok"
            return ClusterReport(
                ctx.name, status, answer.source, answer.as_of, error=note if answer.stale else None,
                count=len(found), note=None if answer.stale else note,
            )  # fmt: skip

        reports = [
            replace(r, also=also[r.context]) if also.get(r.context) else r
            for r in report_each(contexts, answers, answered)
        ]
        # A report cut to one caller's rights is not the context's status for everyone.
        self.last_reports.update((r.context, r) for r in reports if r.context not in limits)
        return FleetResult(kind, items, reports, tallies, failing)

    def _limits(
        self, caller: Caller, contexts: Sequence[ContextInfo], kind: Kind, namespace: str | None
    ) -> dict[str, Scope | ClusterError]:
        """Where `caller` may not see every object asked of `kind`: per context, the namespaces it
        may list, or the error it gets instead of an answer (forbidden for it, or a review that
        failed). A context where it may see all it asked for is not in the answer."""
        access = self.access
        if access is None:
            return {}
        known = {c.name: [namespace] for c in contexts} if namespace else None
        limits: dict[str, Scope | ClusterError] = {}
        for name, found in access.scopes(caller, contexts, kind, known).items():
            if isinstance(found, ClusterError) or found.nothing:
                limits[name] = (
                    found if isinstance(found, ClusterError) else denied(caller, kind.value, namespace)
                )
            elif namespace is not None and not found.allows(namespace):
                limits[name] = denied(caller, kind.value, namespace)
            elif namespace is None and not found.everything:
                limits[name] = found
        return limits

    def _narrow(
        self,
        caller: Caller,
        limits: Mapping[str, Scope | ClusterError],
        contexts: Sequence[ContextInfo],
        kind: Kind,
        selector: LabelSelector | None,
        answers: dict[str, Snapshot | ClusterError],
        fallback: Mapping[str, str],
        keeps: Keeps = "all",
        pod_filter: PodFilter | None = None,
    ) -> dict[str, str]:
        """Cut each answer to the namespaces `caller` may list there (`limits`) and return the
        note each cut answer carries ("namespaces team-a, team-b only"), as the namespace fallback
        says it. A listed answer is filtered; one whose source keeps counts (the watch cache's
        tallies and failing pods) is asked again per namespace, which its per-namespace indexes
        answer in what the namespace holds, so counts never include a namespace the caller may
        not list."""
        notes: dict[str, str] = {}
        again: dict[str, list[ContextInfo]] = {}
        for ctx in contexts:
            limit, answer = limits.get(ctx.name), answers.get(ctx.name)
            if not isinstance(limit, Scope) or limit.namespaces is None or not isinstance(answer, Snapshot):
                continue
            if ctx.name in fallback:  # already the context's namespace only (the server's rights)
                if not limit.allows(ctx.namespace):
                    answers[ctx.name] = denied(caller, kind.value, ctx.namespace)
                continue
            allowed = sorted(limit.namespaces)
            notes[ctx.name] = namespace_note(allowed, "list", kind.value)
            if answer.tally is None and answer.failing is None:
                kept = tuple(r for r in answer.items if getattr(r, "namespace", "") in limit.namespaces)
                answers[ctx.name] = replace(answer, items=kept)
            else:
                for ns in allowed:
                    again.setdefault(ns, []).append(ctx)
        parts: dict[str, list[Snapshot | ClusterError]] = {}
        for ns, group in again.items():
            for name, part in self.source.fetch(group, kind, ns, selector, keeps, pod_filter).items():
                parts.setdefault(name, []).append(part)
        for name, found in parts.items():
            answers[name] = _union(name, kind, found)
        return notes

    def _retry_in_context_namespace(
        self,
        contexts: Sequence[ContextInfo],
        kind: Kind,
        scope: str | None,
        selector: LabelSelector | None,
        answers: dict[str, Snapshot | ClusterError],
        keeps: Keeps = "all",
        pod_filter: PodFilter | None = None,
    ) -> dict[str, str]:
        """Where listing across all namespaces is forbidden, answer from the context's namespace.

        That is what kubectl does for a user whose rights end at one namespace (`kubectl get pods`
        lists the context's namespace); the report says the answer covers that namespace only.
        """
        retry: dict[str, list[ContextInfo]] = {}
        for ctx in contexts:
            forbidden = isinstance(answers.get(ctx.name), ClusterForbiddenError)
            ns = fallback_namespace(ctx, kind.namespaced, scope, forbidden)
            if ns is not None:
                retry.setdefault(ns, []).append(ctx)
        notes: dict[str, str] = {}
        for ns, group in retry.items():
            for name, answer in self.source.fetch(group, kind, ns, selector, keeps, pod_filter).items():
                if isinstance(answer, Snapshot):
                    answers[name] = answer
                    notes[name] = namespace_note(ns, "list", kind.value)
        return notes

    def scopes(self, kind: Kind, contexts: Sequence[str]) -> dict[str, Scope | ClusterError] | None:
        """What the acting caller may list of `kind` in each of `contexts` (for answers read from
        elsewhere than `list`, such as the change journal); None without an acting caller."""
        caller = acting() if self.access is not None else None
        if self.access is None or caller is None:
            return None
        every = self.registry.inventory().contexts
        return self.access.scopes(caller, [every[n] for n in contexts if n in every], kind)

    def close(self) -> None:
        """Stop the source (its watches, its lists)."""
        self.source.close()

    def cache_status(self) -> CacheStatus | None:
        """The watch cache's state per context and kind; None in on-demand mode."""
        return self.source.cache_status()

    def pods(
        self,
        context: ContextSpec = None,
        namespace: str | None = None,
        label_selector: str | None = None,
        pod_filter: PodFilter | None = None,
    ) -> FleetResult[PodRecord]:
        return self.list(Kind.POD, context, namespace, label_selector, pod_filter=pod_filter)  # type: ignore[return-value]

    def deployments(
        self, context: ContextSpec = None, namespace: str | None = None, label_selector: str | None = None
    ) -> FleetResult[DeploymentRecord]:
        return self.list(Kind.DEPLOYMENT, context, namespace, label_selector)  # type: ignore[return-value]

    def nodes(
        self, context: ContextSpec = None, label_selector: str | None = None
    ) -> FleetResult[NodeRecord]:
        return self.list(Kind.NODE, context, None, label_selector)  # type: ignore[return-value]

    def namespaces(
        self, context: ContextSpec = None, label_selector: str | None = None
    ) -> FleetResult[NamespaceRecord]:
        return self.list(Kind.NAMESPACE, context, None, label_selector)  # type: ignore[return-value]

    def get(
        self, kind: Kind, name: str, context: ContextSpec = None, namespace: str | None = None
    ) -> FleetResult[Record]:
        """One object by name, from every selected cluster that has it."""
        check_name(name, kind.singular)
        result = self.list(kind, context, namespace)
        found = [r for r in result.items if r.name == name]
        if not found and not result.failed:
            where = f" in namespace {namespace!r}" if namespace and kind.namespaced else ""
            asked = format_names([c.context for c in result.clusters])
            raise NotFoundError(f"{kind.singular} {name!r} not found{where} in: {asked}")
        reports = [
            replace(c, count=sum(r.context == c.context for r in found)) if c.status == "ok" else c
            for c in result.clusters
        ]
        return FleetResult(kind, found, reports)


def _not_too_long(kind: Kind, answers: Mapping[str, Snapshot | ClusterError]) -> None:
    """More than `ON_THE_LOOP` records to go through: not on the event loop."""
    if noblock.active():
        records = sum(len(a.items) for a in answers.values() if isinstance(a, Snapshot))
        if records > ON_THE_LOOP:
            noblock.check(f"going through {records} {kind.value}")


def _union(context: str, kind: Kind, parts: Sequence[Snapshot | ClusterError]) -> Snapshot | ClusterError:
    """One answer from a context's answers for several namespaces: their objects, counts and
    failing pods together; the first error when one did not answer (a part is not the whole)."""
    for part in parts:
        if isinstance(part, ClusterError):
            return part
    snapshots = [p for p in parts if isinstance(p, Snapshot)]
    tallies = [s.tally for s in snapshots]
    views = [s.failing for s in snapshots]
    counted: Counter[str] = Counter()
    for counts in tallies:
        counted.update(counts or {})
    return Snapshot(
        context=context,
        kind=kind,
        items=tuple(r for s in snapshots for r in s.items),
        as_of=min(s.as_of for s in snapshots),
        source=snapshots[0].source,
        note="; ".join(dict.fromkeys(s.note for s in snapshots if s.note)) or None,
        stale=any(s.stale for s in snapshots),
        tally=counted if all(t is not None for t in tallies) else None,
        failing=merged([v for v in views if v is not None]) if all(v is not None for v in views) else None,
    )


def _as_context(records: list[Record], context: str) -> list[Record]:
    """Records under the name of the context asked (a source may serve several contexts that see
    the same cluster with the same credentials from one store, labelled with one of them)."""
    if all(r.context == context for r in records):
        return records
    return [r if r.context == context else replace(r, context=context) for r in records]


def _filter(snapshot: Snapshot, namespace: str | None, selector: LabelSelector | None) -> list[Record]:
    """Apply namespace and selector to a snapshot (a no-op for a live list already filtered)."""
    items: list[Record] = list(snapshot.items)
    if namespace:
        items = [r for r in items if getattr(r, "namespace", namespace) == namespace]
    if selector is not None:
        items = [r for r in items if selector.matches(r.labels)]
    return items
