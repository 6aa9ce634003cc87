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
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from k8s_multicluster_mcp.common.caller import Caller, acting
from k8s_multicluster_mcp.common.errors import ClusterError, ClusterForbiddenError
from k8s_multicluster_mcp.kube import access as review_api
from k8s_multicluster_mcp.kube import deadlines
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
V = TypeVar("V")
T = TypeVar("T")
ALL = "*"
"""The namespace part of a kept scope's key (no namespace is named `*`)."""


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


class _Kept(Generic[V]):
    """Values kept `ttl` seconds by `clock` (at most `size`; when full, the expired go, else all).

    A lookup is one dict read: a warm question looks up a few per context and kind, which
    `cachetools.TTLCache` (a lock, an expiry pass and a linked list per read) made the cost of
    a narrowed answer."""

    def __init__(self, ttl: float, clock: Callable[[], float], size: int) -> None:
        self._ttl, self._clock, self._size = ttl, clock, size
        self._values: dict[Hashable, tuple[V, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        found = self._values.get(key)
        return found[0] if found is not None and found[1] > self._clock() else None

    def put(self, key: Hashable, value: V) -> None:
        if self._ttl <= 0:
            return
        now = self._clock()
        with self._lock:
            if len(self._values) >= self._size:
                kept = {k: v for k, v in self._values.items() if v[1] > now}
                self._values = kept if len(kept) < self._size else {}
            self._values[key] = (value, now + self._ttl)


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
        self._decisions: _Kept[bool] = _Kept(ttl, clock, max_entries)
        self._scopes_kept: _Kept[Scope] = _Kept(ttl, clock, max_entries)
        """Per caller, context and resource: the namespaces found over every known namespace."""

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
        who = caller.key()  # once: a warm summary looks up a key per context, kind and namespace

        def key(ctx: ContextInfo, namespace: str | None = None) -> _Key:
            return _Key(who, ctx.name, VERB, group, resource, namespace or "")

        def decide(ctx: ContextInfo, namespace: str | None, deadline: Deadline | None) -> bool | None:
            """The cached decision; else the cluster's (None: not cached and no deadline to ask)."""
            found = self._decisions.get(key(ctx, namespace))
            if found is not None or deadline is None:
                return found
            review = Review(caller.user or caller.sub, caller.groups, VERB, group, resource, namespace)
            decision = self._review(ctx, review, deadline)
            self._decisions.put(key(ctx, namespace), decision)
            return decision

        what = f"the access review of {resource}"
        wide = {c.name: decide(c, None, None) for c in contexts}
        unknown = [c for c in contexts if wide[c.name] is None]
        out: dict[str, Scope | ClusterError] = {}
        if unknown:
            # The clusters are asked in parallel, each within the question's timeout.
            for name, answer in self._ask(unknown, lambda c, d: bool(decide(c, None, d)), what).items():
                if isinstance(answer, ClusterError):
                    out[name] = answer
                else:
                    wide[name] = answer
        narrow = [c for c in contexts if c.name not in out and wide[c.name] is False and namespaced]
        out |= {c.name: EVERYTHING if wide[c.name] else NOTHING for c in contexts if wide[c.name] is not None}
        listed = known is None
        if listed:
            # The namespaces a caller may list, as found over every namespace known, are kept as
            # long as the decisions they came from: a warm question looks up one scope per
            # context, not one decision per namespace (nor the namespace list).
            kept = {c.name: self._scopes_kept.get(key(c, ALL)) for c in narrow}
            out |= {name: scope for name, scope in kept.items() if scope is not None}
            narrow = [c for c in narrow if kept[c.name] is None]
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

        ready: dict[str, Scope | ClusterError | None] = {c.name: within(c, None) for c in narrow}
        asking = [c for c in narrow if ready[c.name] is None]
        if asking:
            ready |= self._ask(asking, lambda c, d: within(c, d) or NOTHING, what)
        for ctx in narrow:
            found = ready[ctx.name]
            if isinstance(found, Scope) and listed:
                self._scopes_kept.put(key(ctx, ALL), found)
            if found is not None:
                out[ctx.name] = found
        return out

    def _ask(
        self, contexts: Sequence[ContextInfo], fn: Callable[[ContextInfo, Deadline], T], what: str
    ) -> Mapping[str, T | ClusterError]:
        """`fn` for every context in parallel through the Fanout, each within the question's
        timeout; or, when this thread is already inside a call to a cluster (a live read that
        narrows to the caller's namespaces asks `namespaces_for` there), in this thread under that
        call's deadline: a worker waiting for another worker could wait for the whole pool."""
        running = deadlines.current()
        if running is None:
            return self._fanout.run(contexts, fn, what=what)
        return {ctx.name: fn(ctx, running) for ctx in contexts}

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
