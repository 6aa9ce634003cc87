"""The query layer: fleet questions over any `ClusterSource`, with provenance per cluster.

Tools call this and nothing below it. It resolves which clusters a question is about, asks the
source, and returns the records plus, for every cluster, whether it answered, from where and as of
when. It never knows (or asks) whether the source is the watch cache or the live API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from k8s_multicluster_mcp.common.errors import (
    ClusterError,
    ClusterForbiddenError,
    ClusterStatus,
    NotFoundError,
)
from k8s_multicluster_mcp.common.names import check_name, check_namespace
from k8s_multicluster_mcp.common.selectors import LabelSelector, parse_selector
from k8s_multicluster_mcp.common.text import format_names
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.changes import ChangeJournal
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.failing import FailingView
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
from k8s_multicluster_mcp.query.results import (
    ClusterReport,
    ContextSpec,
    FleetResult,
    fallback_namespace,
    namespace_note,
    one_per_cluster,
    report_each,
)
from k8s_multicluster_mcp.sources.base import CacheStatus, ClusterSource, Snapshot


def _sort_key(record: Record) -> tuple[str, str]:
    return (getattr(record, "namespace", ""), record.name)


class ClusterState:
    """Fleet-wide reads of the kinds a source serves (pods, deployments, nodes, namespaces,
    events), from the watch cache or live; `query.objects.ObjectReader` reads any other kind."""

    def __init__(
        self,
        registry: ContextRegistry,
        source: ClusterSource,
        rules: Rules | None = None,
        journal: ChangeJournal | None = None,
    ) -> None:
        self.registry = registry
        self.source = source
        self.rules = rules or Rules()
        """Thresholds of failure triage (`--pending-grace`, `--restart-threshold`)."""
        self.journal = journal
        """What the watch stores saw change (watch mode); None in on-demand mode."""
        self.last_reports: dict[str, ClusterReport] = {}
        """The latest report per context, from whatever question touched it last."""

    def list(
        self,
        kind: Kind,
        context: ContextSpec = None,
        namespace: str | None = None,
        label_selector: str | None = None,
        *,
        attention_only: bool = False,
        pod_filter: PodFilter | None = None,
    ) -> FleetResult[Record]:
        """Records of `kind` in the selected clusters. `attention_only`: the caller wants only
        what `health.needs_attention` accepts; `pod_filter`: only the pods it matches (the source
        may return just those, or more: the caller applies its filters itself)."""
        selector = parse_selector(label_selector)
        scope = check_namespace(namespace) if kind.namespaced else None
        contexts = self.registry.resolve(context)
        answers = self.source.fetch(contexts, kind, scope, selector, attention_only, pod_filter)
        notes = self._retry_in_context_namespace(
            contexts, kind, scope, selector, answers, attention_only, pod_filter
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
            items.extend(sorted(_as_context(found, ctx.name), key=_sort_key))
            if answer.tally is not None and selector is None:
                tallies[ctx.name] = answer.tally
            if answer.failing is not None and selector is None:
                failing[ctx.name] = answer.failing
            note = "; ".join(n for n in (notes.get(ctx.name), answer.note) if n) or None
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
        self.last_reports.update((r.context, r) for r in reports)
        return FleetResult(kind, items, reports, tallies, failing)

    def _retry_in_context_namespace(
        self,
        contexts: Sequence[ContextInfo],
        kind: Kind,
        scope: str | None,
        selector: LabelSelector | None,
        answers: dict[str, Snapshot | ClusterError],
        attention_only: bool = False,
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
            for name, answer in self.source.fetch(
                group, kind, ns, selector, attention_only, pod_filter
            ).items():
                if isinstance(answer, Snapshot):
                    answers[name] = answer
                    notes[name] = namespace_note(ns, "list", kind.value)
        return notes

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
