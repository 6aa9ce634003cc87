"""What every question answers with, whatever it asks: the records (or rows, or objects) of the
clusters that answered and a `ClusterReport` for every cluster asked. Also the two rules every
question shares: one report per asked context (`report_each`), and the answer from the context's
namespace where a user may not read every namespace (`fallback_namespace`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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


def namespace_note(namespace: str, verb: str, what: str) -> str:
    """The provenance note of an answer that covers the context's namespace only."""
    return f"namespace {namespace} only: may not {verb} {what} in all namespaces"


__all__ = [
    "ClusterReport",
    "ContextSpec",
    "FleetResult",
    "fallback_namespace",
    "namespace_note",
    "report_each",
]
