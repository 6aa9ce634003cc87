"""The contract between the query layer and the sources of cluster state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from k8s_multicluster_mcp.common.errors import ClusterError
from k8s_multicluster_mcp.common.selectors import LabelSelector
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.failing import FailingView
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.podfilter import PodFilter
from k8s_multicluster_mcp.model.records import Record

SourceName = Literal["live", "cache"]


@dataclass(frozen=True)
class Snapshot:
    """The objects of one kind in one cluster, as of one moment, and where they came from."""

    context: str
    kind: Kind
    items: tuple[Record, ...]
    as_of: datetime
    source: SourceName
    note: str | None = None
    """A caveat the answer must carry (e.g. the list was cut at its size bound)."""
    stale: bool = False
    """Served from a cache whose watch has been down longer than --stale-after, because the
    cluster did not answer live either; `note` says since when and why."""
    tally: Mapping[str, int] | None = None
    """`health.tally` counts of every object in scope, when the source keeps them (the watch
    cache); else the query layer counts `items`. Never set for a question with a selector."""
    failing: FailingView | None = None
    """Pods: the failing ones in scope, classified, when the source keeps them (the watch cache,
    whatever rules a question asks with); else the query layer classifies `items` the same way."""


@dataclass(frozen=True)
class CacheEntry:
    """The watch cache of one kind in one context, as `k8s_cache_status` shows it."""

    context: str
    kind: Kind
    synced: bool
    healthy: bool
    objects: int
    scope: str | None
    """The namespace watched when the user may not watch the kind cluster-wide."""
    resource_version: str
    last_event: datetime | None
    unhealthy_since: datetime | None
    relists: int
    reconnects: int
    requests: int
    forbidden: str | None
    last_error: str | None
    approx_bytes: int
    shared: tuple[str, ...] = ()
    """Other contexts this cache serves: same cluster and credentials, so one set of watches."""
    events: int = 0
    """Objects received from the API server (list pages' items and watch events), for /metrics."""


@dataclass(frozen=True)
class CacheStatus:
    entries: tuple[CacheEntry, ...]
    idle: tuple[str, ...] = ()
    """Contexts whose watches were stopped after --idle-ttl without a question."""


Keeps = Literal["all", "attention", "counts"]
"""What a question keeps of a source's answer (`ClusterSource.fetch`)."""


class ClusterSource(Protocol):
    """Answers "the objects of this kind in these clusters", one result or error per cluster."""

    def fetch(
        self,
        contexts: Sequence[ContextInfo],
        kind: Kind,
        namespace: str | None = None,
        selector: LabelSelector | None = None,
        keeps: Keeps = "all",
        pod_filter: PodFilter | None = None,
    ) -> dict[str, Snapshot | ClusterError]:
        """Never raises for one cluster's failure; that cluster maps to its `ClusterError`.

        `keeps`: what the caller keeps of each answer. "attention": only objects
        `health.needs_attention` accepts, plus counts (`Snapshot.tally`, `Snapshot.failing`), so a
        source may return just those (the watch cache's index answers in O(answer)); for pods with
        `Snapshot.failing` set, the caller reads them from it and `items` may be empty. "counts":
        only the counts, so where a source sets them `items` may be empty (the summary: 100
        clusters' degraded deployments, sorted and dropped, were a third of its time in an
        incident). Returning more is correct too (the live source lists everything and the query
        layer counts and classifies it).

        `pod_filter` (pods only): the caller keeps only pods it matches, so a source may return
        just those (the watch cache from its indexes, the live source with field selectors) or
        more; it does not change `tally` or `failing`, which a source then leaves unset.
        """
        ...

    def start(self) -> None:
        """Begin any background work (the watch cache); returns at once."""
        ...

    def cache_status(self) -> CacheStatus | None:
        """The watch cache's state, or None when this source keeps no watch cache."""
        ...

    def close(self) -> None: ...
