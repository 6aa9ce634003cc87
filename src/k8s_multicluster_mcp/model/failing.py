"""The failing pods of one cluster, classified once per change instead of once per question.

`FailingSet` is fed pods as they change (`update`) and answers "the failing pods, most severe
first, and how many per reason" (`pick`) in time proportional to what it returns. A pod is
classified by `triage.classify` when it changes and again only when the clock reaches the next
instant at which its reason could change (`triage.changes_at`: a grace period ends, a restart
stops being recent); a heap of those instants tells `pick` which few pods to look at again.

The watch store keeps one per cluster, current as events arrive; for a live list the query layer
builds one from the listed pods. Both answer through the same code, so the two modes agree.
Not thread-safe: the store calls it under its own lock.
"""

from __future__ import annotations

import heapq
import itertools
import math
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from k8s_multicluster_mcp.model import triage
from k8s_multicluster_mcp.model.records import PodRecord

Key = tuple[str, str]
"""(namespace, name), as the store keys records."""
Order = tuple[int, float, str, str]
"""(severity, -since, name, namespace): the order of `k8s_fleet_failing_pods` within a cluster."""
_Due = tuple[float, int, Key]
"""(instant, generation, key): when a pod must be classified again; stale generations skip."""

SLACK = 1.0
"""Seconds a question's `now` may lag the newest classification and still be answered from the
set (an event classified while the question was starting); further back, `pick` classifies anew."""


_TICK = 1e-6
"""A microsecond: the smallest step of the clock `now` is read from."""

_SPARE = 64
"""Stale entries the heap may hold beyond twice the pods before it is rebuilt without them."""


@dataclass(frozen=True, slots=True)
class Failing:
    """A failing pod as the set classified it, with what every answer naming it shows that only a
    change of the pod (or of its reason, by the clock) can change: made once per classification,
    so a question names its pods without classifying them again (the message's times are read
    at the question's `now`: `triage.Said`)."""

    pod: PodRecord
    failure: triage.Failure
    owner: str | None
    restarts: int


Placed = tuple[Order, Failing]
"""A failing pod with its place in the order (places are unique: pods are never compared)."""


@dataclass(frozen=True)
class Picked:
    """The failing pods a question asked for, most severe first, and every one counted by reason."""

    pods: list[Placed]
    """Each with its place in the order, so answers from several clusters merge without a sort."""
    by_reason: dict[str, int]


class FailingView(Protocol):
    """The failing pods of one cluster in the scope a question asked about (a namespace or all),
    as a source hands them to the query layer (the watch store's set)."""

    def pick(
        self,
        now: datetime,
        rules: triage.Rules,
        reasons: Collection[str] | None = None,
        limit: int | None = None,
    ) -> Picked:
        """The failing pods at `now` under `rules` with one of `reasons` (any case), the first
        `limit` of them in order, and all of them counted by reason."""
        ...


def _order(pod: PodRecord, failure: triage.Failure) -> Order:
    since = failure.since.timestamp() if failure.since is not None else -math.inf
    return (triage.severity(failure.reason), -since, pod.name, pod.namespace)


class FailingSet:
    """Pods of one cluster with each failing one's reason, its place in the answer's order and the
    counts per (namespace, reason), kept current by `update` and by the clock (`pick`)."""

    def __init__(self, rules: triage.Rules) -> None:
        self.rules = rules
        self._pods: dict[Key, tuple[PodRecord, int]] = {}
        """Every pod fed in, with the generation of its latest classification."""
        self._failing: dict[Key, Placed] = {}
        self._order: list[Placed] = []
        """The failing pods in order (kept so by insort and bisect: no sort per question), each
        with its place, so the first `limit` are a slice: no Python step per pod picked (100
        clusters x 20 failing pods each were a third of a failing-pods question)."""
        self._orders: dict[str, list[Placed]] = {}
        """The same per namespace, so a question about one (or a caller's few) reads only those."""
        self._counts: dict[str, Counter[str]] = {}
        """Failing pods per namespace and reason."""
        self._total: Counter[str] = Counter()
        """Failing pods per reason in the whole cluster (the sum of `_counts`, kept with it, so a
        question about every namespace does not add them up: 100 clusters x 40 namespaces)."""
        self._due: list[_Due] = []
        self._generation = 0
        self._latest = -math.inf

    @classmethod
    def of(cls, pods: Iterable[PodRecord], now: datetime, rules: triage.Rules) -> FailingSet:
        made = cls(rules)
        for pod in pods:
            made.update((pod.namespace, pod.name), pod, now)
        return made

    def __len__(self) -> int:
        return len(self._failing)

    def update(self, key: Key, pod: PodRecord | None, now: datetime) -> None:
        """`pod` is the current state of `key` (None: it is gone, or no longer a candidate)."""
        self._drop(key)
        if len(self._due) > 2 * len(self._pods) + _SPARE:
            self._compact()
        if pod is None:
            self._pods.pop(key, None)
            return
        self._generation += 1
        self._pods[key] = (pod, self._generation)
        stamp = now.timestamp()
        self._latest = max(self._latest, stamp)
        failure = triage.classify(pod, now, self.rules)
        if failure is not None:
            placed = (_order(pod, failure), Failing(pod, failure, triage.owner(pod), pod.restarts))
            self._failing[key] = placed
            insort(self._order, placed)
            insort(self._orders.setdefault(key[0], []), placed)
            self._counts.setdefault(key[0], Counter())[failure.reason] += 1
            self._total[failure.reason] += 1
        instants = (t.timestamp() for t in triage.changes_at(pod, self.rules))
        due = min((t for t in instants if t >= stamp), default=None)
        if due is not None:
            # An instant that is now: a strict comparison (`>`) changes just after it.
            heapq.heappush(self._due, (due if due > stamp else stamp + _TICK, self._generation, key))

    def _drop(self, key: Key) -> None:
        placed = self._failing.pop(key, None)
        if placed is None:
            return
        order, reason = placed[0], placed[1].failure.reason
        # `(order,)` sorts just before `(order, failing)`: bisect finds the entry without comparing
        # the Failing.
        del self._order[bisect_left(self._order, (order,))]
        orders, counts = self._orders[key[0]], self._counts[key[0]]
        del orders[bisect_left(orders, (order,))]
        for counted in (counts, self._total):
            counted[reason] -= 1
            if not counted[reason]:
                del counted[reason]
        if not orders:
            del self._orders[key[0]], self._counts[key[0]]

    def _compact(self) -> None:
        """Rebuild the heap with only its current entries. Each update pushes one and only `pick`
        pops, when an instant comes (up to `Rules.recent`, an hour, ahead): without this the heap
        grew with every event, for ever on a server nobody asked (the soak's memory profile)."""
        self._due = [entry for entry in self._due if self._current(entry) is not None]
        heapq.heapify(self._due)

    def _current(self, entry: _Due) -> PodRecord | None:
        """The pod a heap entry is for, or None when the entry is stale (the pod changed since or
        is gone)."""
        _, generation, key = entry
        current = self._pods.get(key)
        return current[0] if current is not None and current[1] == generation else None

    def _advance(self, now: datetime) -> None:
        """Classify again every pod whose reason the clock may have changed by `now`."""
        stamp = now.timestamp()
        while self._due and self._due[0][0] <= stamp:
            entry = heapq.heappop(self._due)
            pod = self._current(entry)
            if pod is not None:
                self.update(entry[2], pod, now)

    def pick(
        self,
        now: datetime,
        rules: triage.Rules,
        reasons: Collection[str] | None = None,
        limit: int | None = None,
        namespace: str | None = None,
    ) -> Picked:
        """`FailingView.pick`, of the pods in `namespace` (all when None). Other rules than the
        set's, or a `now` well before its newest change (a test's fixed clock), are answered by
        classifying every pod anew."""
        if rules != self.rules or now.timestamp() < self._latest - SLACK:
            anew = FailingSet.of((pod for pod, _ in self._pods.values()), now, rules)
            return anew.pick(now, rules, reasons, limit, namespace)
        self._advance(now)
        wanted = {r.lower() for r in reasons} if reasons else None
        # One namespace: its own counts and order, so the cost is what it holds, not the cluster.
        if namespace is None:
            counted: Counter[str] = self._total
            order: list[Placed] = self._order
        else:
            counted = self._counts.get(namespace) or Counter()
            order = self._orders.get(namespace, [])
        by_reason = {r: n for r, n in counted.items() if wanted is None or r.lower() in wanted}
        if wanted is None:  # the common question: the first `limit` in order, a copied slice
            return Picked(order[:limit], by_reason)
        pods: list[Placed] = []
        if limit is None or limit > 0:
            for placed in order:
                if placed[1].failure.reason.lower() in wanted:
                    pods.append(placed)
                    if limit is not None and len(pods) >= limit:
                        break
        return Picked(pods, by_reason)


@dataclass(frozen=True)
class _Merged:
    """Several views of one cluster (the namespaces a caller may list) answering as one."""

    views: tuple[FailingView, ...]

    def pick(
        self,
        now: datetime,
        rules: triage.Rules,
        reasons: Collection[str] | None = None,
        limit: int | None = None,
    ) -> Picked:
        picks = [view.pick(now, rules, reasons, limit) for view in self.views]
        # Each view's first `limit` are in order: a lazy merge reads about `limit` of them (none
        # for the counts alone, as a summary asks).
        merged = heapq.merge(*(p.pods for p in picks), key=lambda op: op[0]) if limit != 0 else ()
        pods = list(itertools.islice(merged, limit))
        by_reason: Counter[str] = Counter()
        for picked in picks:
            by_reason.update(picked.by_reason)
        return Picked(pods, dict(by_reason))


def merged(views: Sequence[FailingView]) -> FailingView:
    """The failing pods of several disjoint scopes of one cluster as one view, in the same order
    and counts as one set holding them all."""
    return views[0] if len(views) == 1 else _Merged(tuple(views))


__all__ = ["Failing", "FailingSet", "FailingView", "Key", "Order", "Picked", "Placed", "merged"]
