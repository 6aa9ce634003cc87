"""What the watch cache says of itself (k8s_cache_status) per context and kind."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.text import format_names
from k8s_multicluster_mcp.render.base import seconds, table
from k8s_multicluster_mcp.sources.base import CacheEntry, CacheStatus


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
    shared: list[str] = []
    """Other contexts served by this same cache (same cluster and credentials)."""

    @classmethod
    def of(cls, entry: CacheEntry, now: datetime) -> CacheEntryOut:
        last = entry.last_event
        return cls(
            context=entry.context, kind=entry.kind.value, synced=entry.synced, healthy=entry.healthy,
            objects=entry.objects, scope=entry.scope, resource_version=entry.resource_version,
            last_event_age_seconds=round((now - last).total_seconds(), 1) if last else None,
            unhealthy_since=entry.unhealthy_since, relists=entry.relists, reconnects=entry.reconnects,
            requests=entry.requests, forbidden=entry.forbidden, last_error=entry.last_error,
            approx_bytes=entry.approx_bytes, shared=list(entry.shared),
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
    last = "-" if e.last_event_age_seconds is None else f"{seconds(e.last_event_age_seconds)} ago"
    error = e.forbidden or ("" if e.healthy else e.last_error or "")
    counts = [str(e.objects), last, e.resource_version or "-", str(e.relists), str(e.reconnects)]
    context = f"{e.context} (also {format_names(e.shared, 3)})" if e.shared else e.context
    return [context, e.kind, e.state, *counts, size(e.approx_bytes), error]


def render_cache_status(
    status: CacheStatus | None, contexts: set[str], now: datetime | None = None
) -> tuple[str, CacheStatusOutput]:
    """`k8s_cache_status`: a line of totals, then a row per (context, kind) of `contexts`."""
    if status is None:
        return CACHE_OFF, CacheStatusOutput(mode="on-demand", entries=[], idle=[])
    now = now or utcnow()
    entries = [CacheEntryOut.of(e, now) for e in status.entries if contexts & {e.context, *e.shared}]
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
