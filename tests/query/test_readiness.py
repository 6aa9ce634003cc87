from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.query.readiness import readiness
from k8s_multicluster_mcp.query.results import ClusterReport
from k8s_multicluster_mcp.sources.base import CacheEntry, CacheStatus

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
KINDS = (Kind.POD, Kind.DEPLOYMENT, Kind.NODE)


def entry(context: str, kind: Kind = Kind.POD, state: str = "synced") -> CacheEntry:
    return CacheEntry(
        context=context, kind=kind, synced=state == "synced", healthy=state == "synced", objects=3,
        scope=None, resource_version="1", last_event=T0,
        unhealthy_since=T0 if state in ("down", "forbidden") else None, relists=0, reconnects=0,
        requests=1, forbidden="may not list" if state == "forbidden" else None,
        last_error="unreachable: refused" if state == "down" else None, approx_bytes=100,
    )  # fmt: skip


def watched(**states: str) -> CacheStatus:
    return CacheStatus(tuple(entry(ctx, kind, state) for ctx, state in states.items() for kind in KINDS))


def test_no_context_is_never_ready() -> None:
    verdict = readiness([], None, {})
    assert not verdict.ready
    assert verdict.reason == "no kubeconfig context is loaded"
    assert not readiness([], CacheStatus(()), {}).ready


def test_watch_mode_waits_until_every_reachable_context_synced() -> None:
    assert not readiness(["a", "b"], CacheStatus(()), {}).ready, "no watches yet: starting"
    verdict = readiness(["a", "b"], watched(a="synced", b="syncing"), {})
    assert (verdict.ready, verdict.contexts) == (False, {"a": "synced", "b": "syncing"})
    assert "waiting for the watches of 1 context(s) to sync: b" in verdict.reason
    ready = readiness(["a", "b"], watched(a="synced", b="synced"), {})
    assert (ready.ready, ready.as_json()["contexts"]) == (True, {"a": "synced", "b": "synced"})


def test_a_down_or_forbidden_context_is_named_without_holding_readiness_back() -> None:
    verdict = readiness(["a", "b", "c"], watched(a="synced", b="down", c="forbidden"), {})
    assert verdict.ready
    assert verdict.contexts == {"a": "synced", "b": "down", "c": "forbidden"}
    assert verdict.reason == "1 of 3 context(s) usable"


def test_one_kind_still_syncing_holds_the_context_and_a_refused_kind_does_not() -> None:
    mixed = CacheStatus((entry("a", Kind.POD), entry("a", Kind.NODE, "syncing")))
    assert readiness(["a"], mixed, {}).contexts == {"a": "syncing"}
    refused = CacheStatus((entry("a", Kind.POD), entry("a", Kind.NODE, "forbidden")))
    assert readiness(["a"], refused, {}).contexts == {"a": "synced"}


def test_no_usable_context_is_not_ready() -> None:
    verdict = readiness(["a", "b"], watched(a="down", b="forbidden"), {})
    assert not verdict.ready
    assert verdict.reason == "none of the 2 context(s) is usable"


def test_shared_watches_answer_for_every_context_they_serve() -> None:
    status = CacheStatus(tuple(replace(entry("a", kind), shared=("alias",)) for kind in KINDS))
    assert readiness(["a", "alias"], status, {}).contexts == {"a": "synced", "alias": "synced"}


def test_on_demand_uses_the_last_reports_and_assumes_an_unasked_context_usable() -> None:
    reports = {"a": ClusterReport("a", "unreachable"), "b": ClusterReport("b", "ok")}
    verdict = readiness(["a", "b", "c"], None, reports)
    assert verdict.ready
    assert verdict.contexts == {"a": "unreachable", "b": "ok", "c": "unknown"}
    assert not readiness(["a"], None, reports).ready


def test_an_idle_context_is_answered_live() -> None:
    status = CacheStatus((), idle=("a",))
    assert readiness(["a"], status, {}).contexts == {"a": "idle"}
    assert readiness(["a"], status, {}).ready
    assert readiness(["a"], status, {"a": ClusterReport("a", "timeout")}).contexts == {"a": "timeout"}
