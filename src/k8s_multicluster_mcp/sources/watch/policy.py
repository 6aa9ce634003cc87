"""When a cached answer may be given, and when a context's watches may be stopped.

Pure functions of a reflector's state and the clock, so the transitions are tested without
threads or servers. The rules (issue: watch cache, TTL bounds):

- not synced yet (the first full list is not in the store): answer live; an empty unsynced
  store would say "no failing pods" and be wrong;
- healthy, or unhealthy for less than `stale_after`: answer from the cache;
- unhealthy for longer: answer live if the cluster answers, else from the cache marked stale;
- the user may not watch the kind cluster-wide and the cache holds one namespace: a question
  about every namespace is forbidden (the query layer then asks for that namespace, as it does
  live), a question about another namespace is answered live;
- nobody asked about a context for `idle_ttl` seconds (0 = never): stop its watches;
- the cached records are frozen out of the garbage collector's sight when stores fill and after
  every `REFREEZE_EVENTS` events (`freeze_due`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Plan = Literal["cache", "live", "forbidden", "stale-or-live"]


@dataclass(frozen=True)
class View:
    """What the decision needs to know of one reflector."""

    synced: bool
    healthy: bool
    unhealthy_since: float | None
    scope: str | None = None
    cluster_wide_forbidden: str | None = None
    forbidden: str | None = None


def plan(view: View | None, namespace: str | None, now: float, stale_after: float) -> tuple[Plan, str | None]:
    """How to answer one context's part of a question, and the reason to state when not cached."""
    if view is None:
        return "live", "watch cache starting for this context; answered live"
    if view.scope is not None:
        if namespace is None:
            return "forbidden", view.cluster_wide_forbidden
        if namespace != view.scope:
            return "live", None
    if view.forbidden and not view.synced:
        return "forbidden", view.forbidden
    if not view.synced:
        return "live", "watch cache not synced yet; answered live"
    if view.healthy or view.unhealthy_since is None or now - view.unhealthy_since < stale_after:
        return "cache", None
    return "stale-or-live", None


REFREEZE_EVENTS = 10_000
"""Watch events since the last `gc.freeze` after which the cache's new records are frozen too."""


@dataclass(frozen=True)
class Frozen:
    """What the cache held when its objects were last frozen out of the collector's sight."""

    synced: int = 0
    """Reflectors synced then."""
    events: int = 0
    """Events they had applied then."""


def freeze_due(frozen: Frozen, synced: int, events: int) -> bool:
    """Whether to collect and freeze now: more reflectors synced (a store was filled), or
    `REFREEZE_EVENTS` events arrived since (each a new record the collector would otherwise scan
    again and again: after 10,000 pod changes over 100k cached pods, a young collection took 108
    ms and the next generation's 123 ms, each in whatever question was running; collected and
    frozen at once, 98-148 ms once, in the manager thread). The caller keeps `frozen` at the
    lowest sums seen since (reflectors that stop lower them), so what starts again counts."""
    return synced > frozen.synced or events - frozen.events >= REFREEZE_EVENTS


def idle(last_asked: float, now: float, idle_ttl: float) -> bool:
    """Whether a context nobody asked about since `last_asked` should stop its watches."""
    return idle_ttl > 0 and now - last_asked >= idle_ttl


__all__ = ["REFREEZE_EVENTS", "Frozen", "Plan", "View", "freeze_due", "idle", "plan"]
