"""Compact answers for a model: row models (structured output) and the text tables made from them.

Every list answer starts with one line saying how many clusters answered, from where and how old
the data is, followed by a line per cluster that did not answer and why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from k8s_multicluster_mcp.common.clock import age, utcnow
from k8s_multicluster_mcp.common.errors import ClusterStatus
from k8s_multicluster_mcp.common.text import CELL_LIMIT, LINE_LIMIT, format_names, one_line
from k8s_multicluster_mcp.model.health import node_readiness
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import (
    ContainerStatus,
    DeploymentRecord,
    NamespaceRecord,
    NodeRecord,
    PodRecord,
    Record,
)
from k8s_multicluster_mcp.query.results import ClusterReport, FleetResult
from k8s_multicluster_mcp.sources.base import CacheEntry, CacheStatus


class ClusterOut(BaseModel):
    """Provenance of one cluster's part of an answer."""

    context: str
    status: ClusterStatus
    source: Literal["live", "cache"] | None = None
    as_of: datetime | None = None
    age_seconds: float | None = None
    count: int = 0
    error: str | None = None
    note: str | None = None

    @classmethod
    def of(cls, report: ClusterReport, now: datetime) -> ClusterOut:
        return cls(
            context=report.context,
            status=report.status,
            source=report.source,
            as_of=report.as_of,
            age_seconds=round((now - report.as_of).total_seconds(), 1) if report.as_of else None,
            count=report.count,
            error=report.error,
            note=report.note,
        )


def provenance(clusters: Sequence[ClusterReport], now: datetime) -> list[str]:
    """The header lines: '3 of 4 clusters answered (live, data ≤2s old)', then the failures.

    Clusters that failed the same way share one line, so a fleet of viewers forbidden from the
    same thing costs one line, not one per cluster.
    """
    ok = [c for c in clusters if c.status == "ok"]
    sources = sorted({c.source for c in ok if c.source})
    oldest = max(((now - c.as_of).total_seconds() for c in ok if c.as_of), default=0.0)
    detail = f" ({'/'.join(sources)}, data ≤{_secs(oldest)} old)" if ok else ""
    lines = [f"{len(ok)} of {len(clusters)} cluster{'s' if len(clusters) != 1 else ''} answered{detail}"]
    failures: dict[tuple[str, str], list[str]] = {}
    for c in clusters:
        if c.status != "ok":
            failures.setdefault((c.status, c.error or "no reason given"), []).append(c.context)
    notes: dict[str, list[str]] = {}
    for c in ok:
        if c.note:
            notes.setdefault(c.note, []).append(c.context)
    for (status, error), names in failures.items():
        lines.append(one_line(f"  {format_names(names, 8)}: {status} — {error}", 2 * LINE_LIMIT))
    for note, names in notes.items():
        lines.append(one_line(f"  {format_names(names, 8)}: {note}", 2 * LINE_LIMIT))
    return lines


def _secs(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain, left-aligned text table (two spaces between columns).

    Every cell is made one line and clipped: a value from a cluster can never forge a row.
    """
    rows = [[one_line(cell, CELL_LIMIT) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    ]
    return "\n".join(lines)


def _exit_words(c: ContainerStatus, prefix: str = "") -> str:
    return prefix + (c.reason or f"ExitCode:{c.exit_code}")


def pod_status(pod: PodRecord) -> str:
    """What kubectl shows in the STATUS column (its printPod, step by step): the pod's reason,
    then the first init container that has not succeeded, then the main containers in the
    order of the status list, the first one with a waiting or terminated reason winning."""
    status = pod.reason or pod.phase
    if any(c.type == "PodScheduled" and c.reason == "SchedulingGated" for c in pod.conditions):
        status = "SchedulingGated"
    init = [c for c in pod.containers if c.init]
    initializing = False
    for index, c in enumerate(init):
        if c.state == "terminated" and c.exit_code == 0:
            continue
        initializing = True
        if c.state == "terminated":
            status = _exit_words(c, "Init:")
        elif c.state == "waiting" and c.reason and c.reason != "PodInitializing":
            status = f"Init:{c.reason}"
        else:
            status = f"Init:{index}/{len(init)}"
        break
    initialized = any(c.type == "Initialized" and c.status == "True" for c in pod.conditions)
    if not initializing or initialized:
        running = False
        for c in reversed([c for c in pod.containers if not c.init]):
            if c.state == "waiting" and c.reason:
                status = c.reason
            elif c.state == "terminated":
                status = _exit_words(c)
            elif c.ready and c.state == "running":
                running = True
        if status == "Completed" and running:
            ready = any(c.type == "Ready" and c.status == "True" for c in pod.conditions)
            status = "Running" if ready else "NotReady"
    if pod.deleting_since is not None and pod.reason == "NodeLost":
        return "Unknown"
    if pod.deleting_since is not None and pod.phase not in ("Succeeded", "Failed"):
        return "Terminating"
    return status


class PodRow(BaseModel):
    context: str
    namespace: str
    name: str
    ready: str
    status: str
    restarts: int
    age: str
    node: str | None = None


class DeploymentRow(BaseModel):
    context: str
    namespace: str
    name: str
    ready: str
    up_to_date: int
    available: int
    images: list[str]
    age: str


class NodeRow(BaseModel):
    context: str
    name: str
    status: str
    roles: str
    version: str | None = None
    internal_ip: str | None = None
    age: str


class NamespaceRow(BaseModel):
    context: str
    name: str
    status: str
    age: str


Row = PodRow | DeploymentRow | NodeRow | NamespaceRow


def node_status(node: NodeRecord) -> str:
    return node_readiness(node) + (",SchedulingDisabled" if node.unschedulable else "")


def row(record: Record, now: datetime) -> Row:
    if isinstance(record, PodRecord):
        ready, total = record.ready_count
        return PodRow(
            context=record.context, namespace=record.namespace, name=record.name, ready=f"{ready}/{total}",
            status=pod_status(record), restarts=record.restarts, age=age(record.created, now),
            node=record.node,
        )  # fmt: skip
    if isinstance(record, DeploymentRecord):
        return DeploymentRow(
            context=record.context, namespace=record.namespace, name=record.name,
            ready=f"{record.ready_replicas}/{record.replicas}", up_to_date=record.updated_replicas,
            available=record.available_replicas, images=[c.image for c in record.containers if not c.init],
            age=age(record.created, now),
        )  # fmt: skip
    if isinstance(record, NodeRecord):
        return NodeRow(
            context=record.context, name=record.name, status=node_status(record),
            roles=",".join(record.roles) or "<none>", version=record.kubelet_version,
            internal_ip=record.internal_ip, age=age(record.created, now),
        )  # fmt: skip
    if isinstance(record, NamespaceRecord):
        return NamespaceRow(
            context=record.context, name=record.name, status=record.phase, age=age(record.created, now)
        )
    raise TypeError(f"no list row for {type(record).__name__}")


_COLUMNS: dict[Kind, tuple[str, ...]] = {
    Kind.POD: ("context", "namespace", "name", "ready", "status", "restarts", "age", "node"),
    Kind.DEPLOYMENT: ("context", "namespace", "name", "ready", "up_to_date", "available", "age", "images"),
    Kind.NODE: ("context", "name", "status", "roles", "version", "internal_ip", "age"),
    Kind.NAMESPACE: ("context", "name", "status", "age"),
}


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


class ListOutput(BaseModel):
    """A fleet-wide list: per-cluster provenance, then the rows shown (at most `limit`): typed
    `items` for pods, deployments, nodes and namespaces; for any other kind `columns` and `rows`
    as the API servers print them, each row starting with its context (and namespace)."""

    kind: str
    clusters: list[ClusterOut]
    total: int
    shown: int
    items: list[Row] = []
    columns: list[str] | None = None
    rows: list[list[str]] | None = None


NARROW = "raise `limit` or narrow the query."


def more_line(
    hidden: Counter[str],
    total_more: int,
    exact: bool = True,
    hint: str = "raise `limit` or narrow the query.",
) -> str:
    """'… 70 more not shown (a: 50, b: 20); raise `limit` or narrow the query.'"""
    by_cluster = ", ".join(f"{ctx}: {n}" for ctx, n in hidden.most_common(8))
    if len(hidden) > 8:
        by_cluster += ", …"
    count = f"{total_more}" if exact else f"at least {total_more}"
    where = f" ({by_cluster})" if by_cluster else ""
    return f"… {count} more not shown{where}; {hint}"


def render_list(
    result: FleetResult[Record], limit: int, now: datetime | None = None
) -> tuple[str, ListOutput]:
    """The text answer and its structured twin for a list."""
    now = now or utcnow()
    rows = [row(r, now) for r in result.items[:limit]]
    output = ListOutput(
        kind=result.kind.value,
        clusters=[ClusterOut.of(c, now) for c in result.clusters],
        total=len(result.items),
        shown=len(rows),
        items=rows,
    )
    columns = _COLUMNS[result.kind]
    lines = provenance(result.clusters, now)
    if rows:
        lines.append(
            table([c.upper() for c in columns], [[_cell(getattr(r, c)) for c in columns] for r in rows])
        )
    elif result.answered:
        lines.append(f"No {result.kind.value} found.")
    if len(result.items) > len(rows):
        hidden = Counter(r.context for r in result.items[limit:])
        lines.append(more_line(hidden, len(result.items) - len(rows)))
    return "\n".join(lines), output


class CacheEntryOut(BaseModel):
    """The watch cache of one kind in one context."""

    context: str
    kind: str
    synced: bool
    healthy: bool
    objects: int
    scope: str | None = None
    resource_version: str
    last_event_age_seconds: float | None = None
    unhealthy_since: datetime | None = None
    relists: int
    reconnects: int
    requests: int
    forbidden: str | None = None
    last_error: str | None = None
    approx_bytes: int

    @classmethod
    def of(cls, entry: CacheEntry, now: datetime) -> CacheEntryOut:
        last = entry.last_event
        return cls(
            context=entry.context, kind=entry.kind.value, synced=entry.synced, healthy=entry.healthy,
            objects=entry.objects, scope=entry.scope, resource_version=entry.resource_version,
            last_event_age_seconds=round((now - last).total_seconds(), 1) if last else None,
            unhealthy_since=entry.unhealthy_since, relists=entry.relists, reconnects=entry.reconnects,
            requests=entry.requests, forbidden=entry.forbidden, last_error=entry.last_error,
            approx_bytes=entry.approx_bytes,
        )  # fmt: skip

    @property
    def state(self) -> str:
        word = "forbidden" if self.forbidden else "synced" if self.synced else "syncing"
        return word + ("" if self.healthy else ",down") + (f" (ns {self.scope})" if self.scope else "")


class CacheStatusOutput(BaseModel):
    mode: Literal["watch", "on-demand"]
    entries: list[CacheEntryOut]
    idle: list[str]


CACHE_OFF = (
    "The watch cache is off (on-demand mode): every answer is a live list, reused for --cache-ttl "
    "seconds. Start the server with --watch to cache pods, deployments and nodes of every context."
)


def size(n: int) -> str:
    """Bytes for a person: 512 B, 3.4 KB, 12.0 MB."""
    for unit, step in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= step:
            return f"{n / step:.1f} {unit}"
    return f"{n} B"


_CACHE_HEADERS = (
    "CONTEXT", "KIND", "STATE", "OBJECTS", "LAST-EVENT", "RV", "RELISTS", "RECONNECTS", "MEMORY", "ERROR",
)  # fmt: skip


def _cache_row(e: CacheEntryOut) -> list[str]:
    last = "-" if e.last_event_age_seconds is None else f"{_secs(e.last_event_age_seconds)} ago"
    error = e.forbidden or ("" if e.healthy else e.last_error or "")
    counts = [str(e.objects), last, e.resource_version or "-", str(e.relists), str(e.reconnects)]
    return [e.context, e.kind, e.state, *counts, size(e.approx_bytes), error]


def render_cache_status(
    status: CacheStatus | None, contexts: set[str], now: datetime | None = None
) -> tuple[str, CacheStatusOutput]:
    """`k8s_cache_status`: a line of totals, then a row per (context, kind) of `contexts`."""
    if status is None:
        return CACHE_OFF, CacheStatusOutput(mode="on-demand", entries=[], idle=[])
    now = now or utcnow()
    entries = [CacheEntryOut.of(e, now) for e in status.entries if e.context in contexts]
    idle = [name for name in status.idle if name in contexts]
    lines = [
        f"Watch cache: {sum(e.synced for e in entries)} of {len(entries)} (context, kind) synced; "
        f"{sum(e.objects for e in entries)} objects; ~{size(sum(e.approx_bytes for e in entries))}"
    ]
    if entries:
        headers = [
            "CONTEXT",
            "KIND",
            "STATE",
            "OBJECTS",
            "LAST-EVENT",
            "RV",
            "RELISTS",
            "RECONNECTS",
            "MEMORY",
            "ERROR",
        ]
        rows = [_cache_row(e) for e in entries]
        lines.append(table(headers, rows))
    if idle:
        lines.append("Idle, watches stopped (the next question restarts them): " + format_names(idle))
    return "\n".join(lines), CacheStatusOutput(mode="watch", entries=entries, idle=idle)


def _plain(value: object) -> object:
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v not in (None, "", (), [], {})}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return _plain({f: getattr(value, f) for f in value.__dataclass_fields__})
    if isinstance(value, Mapping):
        return _plain(dict(value))
    return value


def detail(record: Record) -> dict[str, object]:
    """One record as a plain dict with empty fields dropped (what `k8s_get_resource` shows)."""
    out: dict[str, object] = {}
    plain = _plain(record)
    if isinstance(plain, dict):
        out.update(plain)
    if isinstance(record, PodRecord):
        out["status_summary"] = pod_status(record)
    return out
