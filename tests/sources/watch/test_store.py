"""The watch cache's pure parts: when the cache may answer (stale-after), when a context's watches
stop (idle-ttl), the store's indexes and change events, and the memory estimate."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.failing import FailingSet
from k8s_multicluster_mcp.model.health import tally
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.podfilter import Owner, PodFilter, owners_of
from k8s_multicluster_mcp.model.records import PodRecord, pod_record
from k8s_multicluster_mcp.model.triage import Rules
from k8s_multicluster_mcp.sources import LiveSource
from k8s_multicluster_mcp.sources.watch import WatchSource
from k8s_multicluster_mcp.sources.watch.memory import approx_bytes, deep_size
from k8s_multicluster_mcp.sources.watch.policy import REFREEZE_EVENTS, Frozen, View, freeze_due, idle, plan
from k8s_multicluster_mcp.sources.watch.store import Key, KindStore, key_of
from tests.conftest import WriteKubeconfig
from tests.strategies import KEYS, pods

STALE_AFTER = 120.0


def view(**kw: Any) -> View:
    return View(**{"synced": True, "healthy": True, "unhealthy_since": None, **kw})


def test_unsynced_cache_is_never_the_answer() -> None:
    assert plan(None, None, 0, STALE_AFTER) == (
        "live",
        "watch cache starting for this context; answered live",
    )
    assert plan(view(synced=False), None, 0, STALE_AFTER) == (
        "live",
        "watch cache not synced yet; answered live",
    )


def test_stale_after_moves_a_context_from_cache_to_live_or_stale() -> None:
    down_at = 1000.0
    unhealthy = view(healthy=False, unhealthy_since=down_at)
    assert plan(view(), None, down_at, STALE_AFTER) == ("cache", None)
    assert plan(unhealthy, None, down_at + 1, STALE_AFTER) == ("cache", None)
    assert plan(unhealthy, None, down_at + STALE_AFTER - 0.1, STALE_AFTER) == ("cache", None)
    assert plan(unhealthy, None, down_at + STALE_AFTER, STALE_AFTER) == ("stale-or-live", None)


def test_a_namespace_scoped_cache_answers_its_namespace_only() -> None:
    scoped = view(scope="team-a", cluster_wide_forbidden='User "viewer" cannot list pods')
    assert plan(scoped, None, 0, STALE_AFTER) == ("forbidden", 'User "viewer" cannot list pods')
    assert plan(scoped, "team-a", 0, STALE_AFTER) == ("cache", None)
    assert plan(scoped, "team-b", 0, STALE_AFTER) == ("live", None)


def test_a_forbidden_kind_is_remembered() -> None:
    assert plan(view(synced=False, healthy=False, forbidden="no nodes"), None, 0, STALE_AFTER) == (
        "forbidden",
        "no nodes",
    )


def test_the_cache_is_frozen_when_stores_fill_and_after_many_events() -> None:
    """Records an incident replaces are new objects: scanned by every collection until frozen."""
    start = Frozen()
    assert freeze_due(start, synced=1, events=0), "a store filled"
    after = Frozen(synced=300, events=100_000)
    assert not freeze_due(after, synced=300, events=100_000 + REFREEZE_EVENTS - 1)
    assert freeze_due(after, synced=300, events=100_000 + REFREEZE_EVENTS)
    assert freeze_due(after, synced=301, events=100_000), "another store filled"
    # the manager keeps the lowest sums since the last freeze: stopped reflectors lower them
    assert freeze_due(Frozen(synced=297, events=90_000), synced=300, events=90_000), "restarted"


@pytest.mark.parametrize(
    ("last_asked", "now", "ttl", "expected"),
    [(0, 3599, 3600, False), (0, 3600, 3600, True), (0, 10**9, 0, False)],
)
def test_idle_ttl(last_asked: float, now: float, ttl: float, expected: bool) -> None:
    assert idle(last_asked, now, ttl) is expected


def pod(name: str, namespace: str = "shop", rv: str = "1", **status: Any) -> PodRecord:
    raw = {
        "metadata": {
            "name": name, "namespace": namespace, "uid": f"u-{name}", "resourceVersion": rv,
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "controller": True}],
        },
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "nginx:1"}]},
        "status": status or {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                             "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0, "state": {"running": {}}}]},
    }  # fmt: skip
    record = pod_record("cp-1", raw)
    assert isinstance(record, PodRecord)
    return record


def test_store_indexes_follow_every_change_and_report_it() -> None:
    changes: list[tuple[str | None, str | None]] = []
    store = KindStore(
        "cp-1", Kind.POD, lambda c, k, old, new: changes.append((old and old.name, new and new.name))
    )
    store.replace([pod("a"), pod("b", namespace="other"), pod("c", phase="Pending")])
    assert {r.name for r in store.select("shop")} == {"a", "c"}
    assert {r.name for r in store.select(pods=PodFilter(node="node-a"))} == {"a", "b", "c"}
    assert {r.name for r in store.select("shop", PodFilter(owner=Owner("ReplicaSet", "web-1")))} == {"a", "c"}
    assert {r.name for r in store.select(pods=PodFilter(owner=Owner(None, "web")))} == set(), (
        "web-1 has no pod-template-hash label: no Deployment is told"
    )
    assert {r.name for r in store.select(pods=PodFilter(phase="pending"))} == {"c"}
    assert [r.name for r in store.needing_attention()] == ["c"]
    assert changes == [], "the first fill is the starting point, not a change"

    changes.clear()
    store.upsert(pod("a", rv="2", phase="Failed"))
    store.delete(pod("c"))
    assert [r.name for r in store.needing_attention()] == ["a"]
    assert {r.name for r in store.select()} == {"a", "b"}
    assert changes == [("a", "a"), ("c", None)]

    changes.clear()
    store.replace([pod("a", rv="2", phase="Failed"), pod("d")])  # a relist: b vanished while away
    assert changes == [("b", None), (None, "d")], (
        "unchanged objects are not reported, vanished ones are deletions"
    )
    assert store.select("other") == ()
    assert store.select(pods=PodFilter(node="node-a")) and len(store) == 2
    assert {r.name for r in store.select(pods=PodFilter(phase="Failed"))} == {"a"}


def test_memory_estimate_counts_what_records_hold() -> None:
    store = KindStore("cp-1", Kind.POD)
    assert approx_bytes(store) == 0
    store.replace([pod(f"p-{i}") for i in range(100)])
    one = deep_size(pod("x"), set())
    assert 300 < one < 10_000
    # Records share interned strings, label mappings and timestamps: more than the bare record
    # objects, at most a standalone record each.
    assert 100 * sys.getsizeof(pod("x")) < approx_bytes(store) <= 100 * one


def test_an_idle_context_stops_its_watches_and_the_next_question_restarts_them(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig
) -> None:
    write_kubeconfig("c.yaml", {"quiet": "https://127.0.0.1:9", "busy": "https://127.0.0.2:9"})
    registry = ContextRegistry(directory=tmp_path / "kube")
    now = [0.0]
    # Refused at once; the timeout only has to outlast the first import of the kubernetes client's
    # API classes in a worker (about 2 s of pydantic models with kubernetes 37).
    source = WatchSource(registry, LiveSource(registry, ttl=0, timeout=10), request_timeout=10,
                         idle_ttl=3600, clock=lambda: now[0])  # fmt: skip
    try:
        source.reconcile()
        assert {e.context for e in source.cache_status().entries} == {"quiet", "busy"}
        now[0] = 3000.0
        source.fetch(registry.resolve("busy"), Kind.POD)
        now[0] = 3600.0
        source.reconcile()
        status = source.cache_status()
        assert status.idle == ("quiet",)
        assert {e.context for e in status.entries} == {"busy"}
        answer = source.fetch(registry.resolve("quiet"), Kind.POD)["quiet"]
        assert answer.status == "unreachable", "an idle context is answered live"  # type: ignore[union-attr]
        assert {e.context for e in source.cache_status().entries} == {"quiet", "busy"}
        assert source.cache_status().idle == ()
    finally:
        source.close()


def test_a_forbidden_watch_is_retried_soon_then_settles_at_the_slow_retry() -> None:
    from k8s_multicluster_mcp.sources.watch.reflector import FORBIDDEN_RETRY, forbidden_delay

    delays = [forbidden_delay(n) for n in range(12)]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0], "a restarting API server's 403 costs a second"
    assert delays == sorted(delays) and delays[-1] == FORBIDDEN_RETRY
    assert sum(1 for d in delays if d < FORBIDDEN_RETRY) <= 9, "a lasting 403 is not a loop"
    assert forbidden_delay(10_000) == FORBIDDEN_RETRY


NODES = ("n1", "n2")
OWNERS = (("ReplicaSet", "web-5d8f7"), ("ReplicaSet", "web-6c4a9"), ("StatefulSet", "web"), ("Job", "db"))
FILTERS = [
    PodFilter(node="n1"), PodFilter(phase="running"), PodFilter(phase="Failed", node="n2"),
    PodFilter(owner=Owner("Deployment", "web")), PodFilter(owner=Owner(None, "web")),
    PodFilter(owner=Owner("replicaset", "web-5d8f7"), phase="Pending"), PodFilter(owner=Owner(None, "db")),
]  # fmt: skip


@st.composite
def placed_pods(draw: st.DrawFn, key: tuple[str, str]) -> PodRecord:
    """A pod of `tests.strategies.pods` on a node (or none) with an owner (or none): a
    Deployment's ReplicaSet, a StatefulSet, a Job."""
    pod = draw(pods(key))
    owner = draw(st.sampled_from((None, *OWNERS)))
    labels = {"pod-template-hash": owner[1].rpartition("-")[2]} if owner and owner[0] == "ReplicaSet" else {}
    return replace(pod, node=draw(st.sampled_from((None, *NODES))), labels=labels,
                   owner_kind=owner and owner[0], owner_name=owner and owner[1])  # fmt: skip


def recount(records: list[PodRecord], value: Callable[[PodRecord], list[str]]) -> dict[str, set[Key]]:
    counted: dict[str, set[Key]] = {}
    for r in records:
        for v in value(r):
            counted.setdefault(v, set()).add((r.namespace, r.name))
    return counted


@given(st.lists(st.tuples(st.sampled_from(["put", "put", "delete", "relist"]), st.integers(0, 7),
                          st.data()), max_size=25))  # fmt: skip
@settings(max_examples=60, deadline=None, derandomize=True, database=None)
def test_the_stores_counts_and_failing_pods_equal_a_recount_after_any_changes(
    steps: list[tuple[str, int, st.DataObject]],
) -> None:
    """Guards: the summary's counts, the failing set and the pod indexes (node, phase, owner) kept
    by events (and relists) are what counting and classifying every cached pod from scratch
    gives, in the store and per namespace; a filtered select is a filtered scan."""
    store = KindStore("cp-1", Kind.POD)
    for what, index, data in steps:
        key = KEYS[index]
        if what == "put":
            store.upsert(data.draw(placed_pods(key)))
        elif what == "delete":
            found = store.select(key[0])
            for record in found[:1]:
                store.delete(record)
        else:
            store.replace([data.draw(placed_pods(k)) for k in KEYS[: index + 1]])
    now = utcnow()
    pods_only = [r for r in store.select() if isinstance(r, PodRecord)]
    index = store._index
    assert index.by_node == recount(pods_only, lambda r: [r.node] if r.node else [])
    assert index.by_phase == recount(pods_only, lambda r: [r.phase.lower()])
    assert index.by_owner == recount(pods_only, lambda r: list({name for _, name in owners_of(r)}))
    for namespace in (None, "a"):
        for wanted in FILTERS:
            assert sorted(key_of(r) for r in store.select(namespace, wanted)) == sorted(
                key_of(r) for r in pods_only if namespace in (None, r.namespace) and wanted.matches(r)
            )
    assert store.tally() == +Counter(k for r in pods_only for k in tally(r))
    assert store.tally("a") == +Counter(k for r in pods_only if r.namespace == "a" for k in tally(r))
    for namespace in (None, "b"):
        view = store.failing(namespace)
        assert view is not None
        expected = FailingSet.of([p for p in pods_only if namespace in (None, p.namespace)], now, Rules())
        assert view.pick(now, Rules()) == expected.pick(now, Rules())
