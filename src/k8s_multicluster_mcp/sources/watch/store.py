"""The cached records of one kind in one cluster, with the indexes fleet questions use.

Keys are (namespace, name), as client-go's store keys them. Besides the records themselves the
store keeps, up to date on every change: records by namespace, pods by node, by phase and by
owner (the names `podfilter.owners_of` gives: the controller, and a ReplicaSet's Deployment), so a
pod search reads the smallest of them (`select` with a `PodFilter`), the set of records that may
need attention
(`health.needs_attention`), the summary's counts per namespace (`health.tally`) and, for pods,
those that need attention classified by failure triage (`model.failing.FailingSet`), so a fleet
question costs what its answer holds, not what the cache holds. A relist replaces everything at
once: the new maps are built outside the lock and swapped in, so a reader sees either the old
state or the new one, never a mix, and is never held up by more than a swap. Every change (old
record -> new record; None for an add or a delete) is offered to the change listener, outside the
lock; the first fill is the starting point, not a change, and is not reported.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.model.failing import FailingSet, FailingView, Picked
from k8s_multicluster_mcp.model.health import needs_attention, tally
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.podfilter import PodFilter, owners_of
from k8s_multicluster_mcp.model.records import PodRecord, Record
from k8s_multicluster_mcp.model.triage import Rules

Key = tuple[str, str]
V = TypeVar("V")
ChangeListener = Callable[[str, Kind, "Record | None", "Record | None"], None]
"""Called with (context, kind, old, new) for every change."""


def key_of(record: Record) -> Key:
    return (getattr(record, "namespace", ""), record.name)


def _pod_keys(record: Record) -> tuple[str | None, str | None, tuple[str, ...]]:
    """What a pod is indexed by: its node, its phase (lower case) and its owners' names."""
    if not isinstance(record, PodRecord):
        return None, None, ()
    names = tuple(dict.fromkeys(name for _, name in owners_of(record)))
    return record.node, record.phase.lower(), names


@dataclass
class _Indexes:
    """Records by namespace (the primary map), pods' keys by node, phase and owner name, and the
    records that need attention (a map of its own: the fleet's most frequent question reads it
    whole)."""

    by_namespace: dict[str, dict[Key, Record]] = field(default_factory=dict)
    by_node: dict[str, set[Key]] = field(default_factory=dict)
    by_phase: dict[str, set[Key]] = field(default_factory=dict)
    by_owner: dict[str, set[Key]] = field(default_factory=dict)
    attention: dict[Key, Record] = field(default_factory=dict)
    tallies: dict[str, Counter[str]] = field(default_factory=dict)
    """`health.tally` counts per namespace, and of all (`total`)."""
    total: Counter[str] = field(default_factory=Counter)
    failing: FailingSet | None = None
    """Pods only: the attention set, classified."""
    count: int = 0

    def get(self, key: Key) -> Record | None:
        return (self.by_namespace.get(key[0]) or {}).get(key)

    def records(self) -> Iterator[Record]:
        for namespace in self.by_namespace.values():
            yield from namespace.values()

    def add(self, key: Key, record: Record, attention: bool) -> None:
        namespace = self.by_namespace.setdefault(key[0], {})
        self.count += key not in namespace
        namespace[key] = record
        node, phase, owners = _pod_keys(record)
        if node:
            self.by_node.setdefault(node, set()).add(key)
        if phase is not None:
            self.by_phase.setdefault(phase, set()).add(key)
        for owner in owners:
            self.by_owner.setdefault(owner, set()).add(key)
        if attention:
            self.attention[key] = record
        counted = tally(record)
        self.tallies.setdefault(key[0], Counter()).update(counted)
        self.total.update(counted)
        if self.failing is not None and isinstance(record, PodRecord):
            self.failing.update(key, record if attention else None, utcnow())

    def remove(self, key: Key) -> Record | None:
        namespace = self.by_namespace.get(key[0])
        record = namespace.pop(key, None) if namespace is not None else None
        if record is None or namespace is None:
            return None
        self.count -= 1
        if not namespace:
            del self.by_namespace[key[0]]
        node, phase, owners = _pod_keys(record)
        if node:
            _discard(self.by_node, node, key)
        if phase is not None:
            _discard(self.by_phase, phase, key)
        for owner in owners:
            _discard(self.by_owner, owner, key)
        self.attention.pop(key, None)
        counts, counted = self.tallies[key[0]], tally(record)
        counts.subtract(counted)
        self.total.subtract(counted)
        if not +counts:
            del self.tallies[key[0]]
        if self.failing is not None:
            self.failing.update(key, None, utcnow())
        return record


def _discard(index: dict[V, set[Key]], value: V, key: Key) -> None:
    keys = index.get(value)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[value]


class KindStore:
    """Records of one kind in one cluster; thread-safe."""

    def __init__(
        self, context: str, kind: Kind, on_change: ChangeListener | None = None, rules: Rules | None = None
    ) -> None:
        self.context = context
        self.kind = kind
        self._on_change = on_change
        self._needs_attention = needs_attention(kind)
        self._rules = rules or Rules()
        self._lock = threading.Lock()
        self._index = self._empty()
        self._filled = False

    def _empty(self) -> _Indexes:
        return _Indexes(failing=FailingSet(self._rules) if self.kind is Kind.POD else None)

    def __len__(self) -> int:
        return self._index.count

    def replace(self, records: Iterable[Record]) -> None:
        """Make the store hold exactly `records` (after a list); what is missing was deleted."""
        fresh = self._empty()
        for record in records:
            fresh.add(key_of(record), record, self._needs_attention(record))
        with self._lock:
            old, self._index = self._index, fresh
        first, self._filled = not self._filled, True
        if self._on_change is None or first:
            return  # the first fill is where the cache starts, not a change
        for before in old.records():
            if fresh.get(key_of(before)) is None:
                self._on_change(self.context, self.kind, before, None)
        for after in fresh.records():
            previous = old.get(key_of(after))
            if previous is None or previous.resource_version != after.resource_version:
                self._on_change(self.context, self.kind, previous, after)

    def upsert(self, record: Record) -> None:
        key = key_of(record)
        with self._lock:
            before = self._index.remove(key)
            self._index.add(key, record, self._needs_attention(record))
        if self._on_change is not None:
            self._on_change(self.context, self.kind, before, record)

    def delete(self, record: Record) -> None:
        with self._lock:
            before = self._index.remove(key_of(record))
        if before is not None and self._on_change is not None:
            self._on_change(self.context, self.kind, before, None)

    def select(self, namespace: str | None = None, pods: PodFilter | None = None) -> tuple[Record, ...]:
        """Every record, or those of one namespace, or the pods of it `pods` matches: read from
        the smallest index that holds them all (namespace, node, phase or owner name), so the
        cost is that index's size, not the store's."""
        with self._lock:
            index = self._index
            scoped = (index.by_namespace.get(namespace) or {}) if namespace is not None else None
            if not pods:
                return tuple(index.records()) if scoped is None else tuple(scoped.values())
            keys = min(
                (
                    found.get(value) or set()
                    for found, value in (
                        (index.by_node, pods.node),
                        (index.by_phase, pods.phase and pods.phase.lower()),
                        (index.by_owner, pods.owner and pods.owner.name),
                    )
                    if value
                ),
                key=len,
            )
            if scoped is not None and len(scoped) < len(keys):
                candidates: Iterable[Record | None] = scoped.values()
            else:
                candidates = (index.get(k) for k in keys if namespace in (None, k[0]))
            return tuple(r for r in candidates if isinstance(r, PodRecord) and pods.matches(r))

    def sample(self, n: int) -> tuple[Record, ...]:
        """Some `n` records (the first in the store's order), without copying the others."""
        with self._lock:
            return tuple(itertools.islice(self._index.records(), n))

    def needing_attention(self) -> tuple[Record, ...]:
        with self._lock:
            return tuple(self._index.attention.values())

    def tally(self, namespace: str | None = None) -> dict[str, int]:
        """`health.tally` counts over every record, or those of one namespace (a copy, without
        the keys whose count fell to 0)."""
        with self._lock:
            counts = self._index.total if namespace is None else self._index.tallies.get(namespace)
            return {k: n for k, n in counts.items() if n} if counts else {}

    def failing(self, namespace: str | None = None) -> FailingView | None:
        """The failing pods of the store, or of one namespace (pods only; None for other kinds)."""
        return _Failing(self, namespace) if self.kind is Kind.POD else None

    def _pick(
        self,
        now: datetime,
        rules: Rules,
        reasons: Collection[str] | None,
        limit: int | None,
        namespace: str | None,
    ) -> Picked:
        with self._lock:
            failing = self._index.failing
            if failing is None:  # `failing()` hands out views of pods stores only
                raise TypeError(f"a store of {self.kind.value} keeps no failing pods")
            return failing.pick(now, rules, reasons, limit, namespace)


@dataclass(frozen=True)
class _Failing:
    """A store's `FailingSet` seen through its lock, scoped to a namespace or not."""

    store: KindStore
    namespace: str | None

    def pick(
        self, now: datetime, rules: Rules, reasons: Collection[str] | None = None, limit: int | None = None
    ) -> Picked:
        return self.store._pick(now, rules, reasons, limit, self.namespace)


__all__ = ["ChangeListener", "Key", "KindStore", "key_of"]
