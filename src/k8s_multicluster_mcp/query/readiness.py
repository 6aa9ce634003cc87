"""Whether the server can give the answers it promises (`/readyz` on the health port), as a pure
rule over what the server already knows: the kubeconfig inventory's context names, the watch
cache's entries (`ClusterSource.cache_status`) and the last report per context from questions
(`ClusterState.last_reports`).

A context's state:
- with `--watch`, from its cache entries (every kind watched for it, its own or shared):
  `starting` (no watches yet), `syncing` (a kind has neither synced nor failed yet), `down` (a
  kind failed and is retrying, or a synced watch is down now), `forbidden` (every kind refused),
  `synced` (every kind synced and watching, or refused); `idle` when its watches were stopped by
  --idle-ttl (it is answered live, as in on-demand mode);
- on demand, from the last question that reached it: `ok`, the failure status (`unreachable`,
  `forbidden`, `auth-error`, `timeout`, `stale`, `error`), or `unknown` when no question has yet.

Ready means: at least one context, none `starting` or `syncing`, and at least one usable
(`synced`; on demand or idle: `ok` or `unknown`, i.e. not known to fail). A context that is down
or forbidden does not hold readiness back: it is named with its state, and a cluster that never
answers is `syncing` only until its first list fails (--list-timeout at most).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from k8s_multicluster_mcp.query.results import ClusterReport
from k8s_multicluster_mcp.sources.base import CacheEntry, CacheStatus

WAITING = frozenset({"starting", "syncing"})
"""States that hold readiness back: the context may still become usable within a list's time."""
USABLE = frozenset({"synced", "ok", "unknown", "idle"})
"""States whose questions are answered (from the cache, or live with no failure known)."""
_PRECEDENCE = ("syncing", "down", "synced", "forbidden")
"""A context's state is its kinds' first state in this order."""


@dataclass(frozen=True)
class Readiness:
    """The verdict, why, and every context's state (the JSON body of `/readyz`)."""

    ready: bool
    reason: str
    contexts: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"ready": self.ready, "reason": self.reason, "contexts": dict(self.contexts)}


def entry_state(entry: CacheEntry) -> str:
    """One watched kind: `forbidden`, `synced`, `down` or `syncing`."""
    if entry.forbidden and not (entry.synced and entry.healthy):
        return "forbidden"
    if entry.synced and entry.healthy:
        return "synced"
    if entry.unhealthy_since is not None:
        return "down"
    return "syncing"


def _watched_state(entries: list[CacheEntry]) -> str:
    states = {entry_state(e) for e in entries}
    if not states:
        return "starting"
    if states == {"synced", "forbidden"}:
        return "synced"
    return next(s for s in _PRECEDENCE if s in states)


def _reported_state(report: ClusterReport | None) -> str:
    return "unknown" if report is None else report.status


def context_states(
    contexts: Iterable[str], cache: CacheStatus | None, reports: Mapping[str, ClusterReport]
) -> dict[str, str]:
    """Each context's state (see the module docstring); `cache` is None on demand."""
    if cache is None:
        return {name: _reported_state(reports.get(name)) for name in contexts}
    watched: dict[str, list[CacheEntry]] = {}
    for entry in cache.entries:
        for name in (entry.context, *entry.shared):
            watched.setdefault(name, []).append(entry)
    states: dict[str, str] = {}
    for name in contexts:
        if name in cache.idle and name not in watched:
            reported = _reported_state(reports.get(name))
            states[name] = "idle" if reported in USABLE else reported
        else:
            states[name] = _watched_state(watched.get(name, []))
    return states


def readiness(
    contexts: Iterable[str], cache: CacheStatus | None, reports: Mapping[str, ClusterReport]
) -> Readiness:
    """Ready or not, and why, over the contexts the kubeconfig holds now."""
    states = context_states(sorted(contexts), cache, reports)
    if not states:
        return Readiness(False, "no kubeconfig context is loaded")
    waiting = [name for name, state in states.items() if state in WAITING]
    if waiting:
        shown = ", ".join(waiting[:5]) + (f" and {len(waiting) - 5} more" if len(waiting) > 5 else "")
        return Readiness(
            False, f"waiting for the watches of {len(waiting)} context(s) to sync: {shown}", states
        )
    usable = sum(state in USABLE for state in states.values())
    if not usable:
        return Readiness(False, f"none of the {len(states)} context(s) is usable", states)
    return Readiness(True, f"{usable} of {len(states)} context(s) usable", states)


__all__ = ["USABLE", "WAITING", "Readiness", "context_states", "entry_state", "readiness"]
