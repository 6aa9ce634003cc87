"""What every question answers with, whatever it asks: the records (or rows, or objects) of the
clusters that answered and a `ClusterReport` for every cluster asked. Also the two rules every
question shares: one report per asked context (`report_each`), and the answer from the context's
namespace where a user may not read every namespace (`fallback_namespace`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from k8s_multicluster_mcp.common.errors import ClusterError, ClusterStatus
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.failing import FailingView
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import Record
from k8s_multicluster_mcp.sources.base import SourceName

A = TypeVar("A")
R = TypeVar("R", bound=Record, covariant=True)
ContextSpec = str | Sequence[str] | None


@dataclass(frozen=True)
class ClusterReport:
    """How one cluster answered one question."""

    context: str
    status: ClusterStatus
    source: SourceName | None = None
    as_of: datetime | None = None
    error: str | None = None
    count: int = 0
    note: str | None = None
    """A caveat on an answer that is otherwise ok (e.g. it covers one namespace only)."""
    also: tuple[str, ...] = ()
    """Other contexts asked that reach the same cluster: this answer stands for them (the
    cluster is listed and counted once)."""


@dataclass(frozen=True)
class FleetResult(Generic[R]):
    """Records from every cluster that answered, and a report for every cluster asked."""

    kind: Kind
    items: Sequence[R]
    clusters: Sequence[ClusterReport] = field(default_factory=list)
    tallies: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Per context, the source's `health.tally` counts where it keeps them (the watch cache);
    `query.fleet` counts `items` for the others."""
    failing: Mapping[str, FailingView] = field(default_factory=dict)
    """Per context, the source's classified failing pods where it keeps them; `query.fleet`
    classifies `items` for the others."""

    @property
    def answered(self) -> list[ClusterReport]:
        return [c for c in self.clusters if c.status == "ok"]

    @property
    def failed(self) -> list[ClusterReport]:
        return [c for c in self.clusters if c.status != "ok"]


def report_each(
    contexts: Sequence[ContextInfo],
    answers: Mapping[str, A | ClusterError],
    answered: Callable[[ContextInfo, A], ClusterReport],
) -> list[ClusterReport]:
    """One report per asked context, in order: the cluster's error, or what `answered` says of
    its answer (a context missing from `answers` did not answer)."""
    reports = []
    for ctx in contexts:
        answer = answers.get(ctx.name) or ClusterError("no answer")
        if isinstance(answer, ClusterError):
            reports.append(ClusterReport(ctx.name, answer.status, error=answer.message))
        else:
            reports.append(answered(ctx, answer))
    return reports


def fallback_namespace(ctx: ContextInfo, namespaced: bool, asked: str | None, forbidden: bool) -> str | None:
    """The namespace to answer from where reading every namespace was forbidden: the context's
    own, as kubectl does for a user whose rights end at one namespace; None where that does not
    apply (a namespace was asked for, the kind is cluster-wide, the context names none)."""
    if forbidden and namespaced and asked is None and ctx.namespace:
        return ctx.namespace
    return None


def one_per_cluster(
    contexts: Sequence[ContextInfo],
    answers: Mapping[str, object],
    narrowed: Collection[str] = (),
    stale: Callable[[object], bool] = lambda answer: False,
) -> tuple[list[ContextInfo], dict[str, tuple[str, ...]]]:
    """Which contexts answer for their cluster when several asked reach the same one (same
    server and CA: `ContextInfo.cluster_key`), and whom each stands for.

    The broadest answer wins: one over the whole asked scope, before one `narrowed` to the
    context's namespace, before a `stale` one, before an error; ties go to the earlier context.
    Where the best answers are each narrowed to a namespace, one per distinct namespace is kept
    (together they cover more than any one). A context asked alone is never replaced by another,
    so what it may see is never widened.
    """

    def rank(ctx: ContextInfo) -> int:
        answer = answers.get(ctx.name)
        if answer is None or isinstance(answer, ClusterError):
            return 3
        return 2 if stale(answer) else 1 if ctx.name in narrowed else 0

    groups: dict[str, list[ContextInfo]] = {}
    for ctx in contexts:
        groups.setdefault(ctx.cluster_key or f"context:{ctx.name}", []).append(ctx)
    if len(groups) == len(contexts):  # every context its own cluster: each stands for itself
        return list(contexts), {ctx.name: () for ctx in contexts}
    also: dict[str, tuple[str, ...]] = {}
    for group in groups.values():
        best = min(rank(c) for c in group)
        kept: dict[str | None, ContextInfo] = {}
        for ctx in group:
            if rank(ctx) == best:
                kept.setdefault(ctx.namespace if best == 1 else None, ctx)
        for key, ctx in kept.items():
            stands_for = [
                c.name for c in group if c not in kept.values() and (key is None or c.namespace == key)
            ]
            if key is not None and ctx is next(iter(kept.values())):
                stands_for += [c.name for c in group if c not in kept.values() and c.namespace not in kept]
            also[ctx.name] = tuple(stands_for)
    return [c for c in contexts if c.name in also], also


def namespace_note(namespaces: str | Sequence[str], verb: str, what: str) -> str:
    """The provenance note of an answer that covers some namespaces only: the context's own (the
    fallback), or those a caller may list ("namespaces team-a, team-b only: ...")."""
    named = [namespaces] if isinstance(namespaces, str) else list(namespaces)
    label = "namespace" if len(named) == 1 else "namespaces"
    return f"{label} {', '.join(named)} only: may not {verb} {what} in all namespaces"


__all__ = [
    "ClusterReport",
    "ContextSpec",
    "FleetResult",
    "fallback_namespace",
    "namespace_note",
    "one_per_cluster",
    "report_each",
]
