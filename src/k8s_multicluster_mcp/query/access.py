"""What the acting caller may list of what the server reads with its own identity.

The cached kinds (the --watch cache and the on-demand source's TTL cache) are read once with the
server's identity and shared by every caller; with --authorize-as-caller each answer is cut to
what the caller may `list`, as the cluster's RBAC says (a SubjectAccessReview per question, with
the server's identity: `kube.access`). A `Scope` is that answer for one caller, context and kind:
everything (allowed cluster-wide), these namespaces (denied cluster-wide, allowed in some the
server knows of), or nothing. Decisions are kept `ttl` seconds under the caller's `Caller.key()`
(user and groups), so one caller's decision is never another's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cachetools import TTLCache

from k8s_multicluster_mcp.common.caller import Caller, acting
from k8s_multicluster_mcp.common.errors import ClusterError, ClusterForbiddenError
from k8s_multicluster_mcp.kube import access as review_api
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.deadlines import Deadline
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.sources.base import ClusterSource, Snapshot

Review = review_api.Review
Reviewer = Callable[[ContextInfo, Review, Deadline], bool]
"""Asks one context whether a review is allowed (the API call; tests give a table)."""

RESOURCES: Mapping[Kind, tuple[str, str]] = {
    Kind.POD: ("", "pods"),
    Kind.DEPLOYMENT: ("apps", "deployments"),
    Kind.NODE: ("", "nodes"),
    Kind.NAMESPACE: ("", "namespaces"),
    Kind.EVENT: ("", "events"),
}
"""The API group and resource each cached kind is listed as (what a review names)."""

VERB = "list"


@dataclass(frozen=True)
class Scope:
    """What a caller may list of one kind in one context: every namespace (`namespaces` None),
    these namespaces, or none (an empty set)."""

    namespaces: frozenset[str] | None = None

    @property
    def everything(self) -> bool:
        return self.namespaces is None

    @property
    def nothing(self) -> bool:
        return self.namespaces is not None and not self.namespaces

    def allows(self, namespace: str | None) -> bool:
        """Whether an object in `namespace` (None or "": cluster-scoped) may be shown."""
        return self.namespaces is None or (bool(namespace) and namespace in self.namespaces)


EVERYTHING = Scope()
NOTHING = Scope(frozenset())


def denied(caller: Caller, what: str, namespace: str | None = None) -> ClusterForbiddenError:
    """The forbidden answer that names the caller: "forbidden for alice: cannot list pods"."""
    where = f" in namespace {namespace}" if namespace else ""
    return ClusterForbiddenError(f"forbidden for {caller.user or caller.sub}: cannot {VERB} {what}{where}")


class _Key(NamedTuple):
    caller: str
    """`Caller.key()`: the decision is this identity's only."""
    context: str
    verb: str
    group: str
    resource: str
    namespace: str
    """"": across all namespaces (or a cluster-scoped resource)."""


class Access:
    """Per caller, context and resource: may it list, cluster-wide or in which namespaces."""

    def __init__(
        self,
        registry: ContextRegistry,
        fanout: Fanout,
        source: ClusterSource,
        *,
        ttl: float = 10.0,
        timer: Callable[[], float] | None = None,
        reviewer: Reviewer | None = None,
        max_entries: int = 65_536,
    ) -> None:
        self._fanout = fanout
        self._source = source
        """Lists the namespaces a context has (with the server's identity; TTL-cached live)."""
        self._review = reviewer or _reviewer(registry, fanout.timeout)
        clock = timer or (lambda: time.monotonic())
        self._cache: TTLCache[_Key, bool] | None = (
            TTLCache(maxsize=max_entries, ttl=ttl, timer=clock) if ttl > 0 else None
        )
        self._lock = threading.Lock()

    def scope(self, caller: Caller, ctx: ContextInfo, kind: Kind, known_namespaces: Collection[str]) -> Scope:
        """What `caller` may list of `kind` in `ctx`; where cluster-wide is denied, which of
        `known_namespaces` (raises the `ClusterError` of a review that failed)."""
        answer = self.scopes(caller, [ctx], kind, {ctx.name: known_namespaces})[ctx.name]
        if isinstance(answer, ClusterError):
            raise answer
        return answer

    def scopes(
        self,
        caller: Caller,
        contexts: Sequence[ContextInfo],
        kind: Kind,
        known: Mapping[str, Collection[str]] | None = None,
    ) -> dict[str, Scope | ClusterError]:
        """`scope` for every context, in parallel; the namespaces a context has are listed
        (`known` else) only for contexts where the caller may not list `kind` cluster-wide."""
        group, resource = RESOURCES[kind]
        return self._scopes(caller, contexts, group, resource, kind.namespaced, known)

    def namespaces_for(self, ctx: ContextInfo, group: str, resource: str) -> list[str] | None:
        """For the acting caller: the namespaces it may list `group`/`resource` in where it may
        not list them cluster-wide (sorted; empty: none); None without an acting caller or where
        it may list them cluster-wide. Raises the `ClusterError` of a review that failed."""
        caller = acting()
        if caller is None:
            return None
        answer = self._scopes(caller, [ctx], group, resource, True, None)[ctx.name]
        if isinstance(answer, ClusterError):
            raise answer
        return None if answer.namespaces is None else sorted(answer.namespaces)

    def _scopes(
        self,
        caller: Caller,
        contexts: Sequence[ContextInfo],
        group: str,
        resource: str,
        namespaced: bool,
        known: Mapping[str, Collection[str]] | None,
    ) -> dict[str, Scope | ClusterError]:
        def key(ctx: ContextInfo, namespace: str | None = None) -> _Key:
            return _Key(caller.key(), ctx.name, VERB, group, resource, namespace or "")

        def decide(ctx: ContextInfo, namespace: str | None, deadline: Deadline | None) -> bool | None:
            """The cached decision; else the cluster's (None: not cached and no deadline to ask)."""
            found = self._cached(key(ctx, namespace))
            if found is not None or deadline is None:
                return found
            review = Review(caller.user or caller.sub, caller.groups, VERB, group, resource, namespace)
            decision = self._review(ctx, review, deadline)
            if self._cache is not None:
                with self._lock:
                    self._cache[key(ctx, namespace)] = decision
            return decision

        what = f"the access review of {resource}"
        wide = {c.name: decide(c, None, None) for c in contexts}
        unknown = [c for c in contexts if wide[c.name] is None]
        out: dict[str, Scope | ClusterError] = {}
        if unknown:
            # The clusters are asked in parallel, each within the question's timeout.
            for name, answer in self._fanout.run(
                unknown, lambda c, d: bool(decide(c, None, d)), what=what
            ).items():
                if isinstance(answer, ClusterError):
                    out[name] = answer
                else:
                    wide[name] = answer
        narrow = [c for c in contexts if c.name not in out and wide[c.name] is False and namespaced]
        out |= {c.name: EVERYTHING if wide[c.name] else NOTHING for c in contexts if wide[c.name] is not None}
        if not narrow:
            return out
        if known is None:
            known = self._known_namespaces(narrow)

        def within(ctx: ContextInfo, deadline: Deadline | None) -> Scope | None:
            # One call per cluster: its reviews go one after another on one kept-alive connection
            # (a millisecond each); None: some are not cached and there is no deadline to ask.
            allowed = []
            for ns in sorted((known or {}).get(ctx.name, ())):
                decision = decide(ctx, ns, deadline)
                if decision is None:
                    return None
                if decision:
                    allowed.append(ns)
            return Scope(frozenset(allowed))

        ready = {c.name: within(c, None) for c in narrow}
        out |= {name: scope for name, scope in ready.items() if scope is not None}
        asking = [c for c in narrow if ready[c.name] is None]
        if asking:
            decided = self._fanout.run(asking, lambda c, d: within(c, d) or NOTHING, what=what)
            out |= decided
        return out

    def _cached(self, key: _Key) -> bool | None:
        if self._cache is None:
            return None
        with self._lock:
            return self._cache.get(key)

    def _known_namespaces(self, contexts: Sequence[ContextInfo]) -> dict[str, list[str]]:
        """The namespaces each context has (listed with the server's identity); where that list
        fails, the context's own namespace, if it names one."""
        listed = self._source.fetch(contexts, Kind.NAMESPACE)
        out: dict[str, list[str]] = {}
        for ctx in contexts:
            answer = listed.get(ctx.name)
            if isinstance(answer, Snapshot):
                out[ctx.name] = [r.name for r in answer.items]
            else:
                out[ctx.name] = [ctx.namespace] if ctx.namespace else []
        return out


def _reviewer(registry: ContextRegistry, timeout: float) -> Reviewer:
    """Reviews sent to the context's API server with the server's own credentials."""

    def review(ctx: ContextInfo, asked: Review, deadline: Deadline) -> bool:
        left = max(0.1, min(timeout, deadline.remaining()))
        return review_api.allowed(registry.api_client(ctx), asked, timeout=left)

    return review


__all__ = ["EVERYTHING", "NOTHING", "RESOURCES", "Access", "Review", "Reviewer", "Scope", "denied"]
