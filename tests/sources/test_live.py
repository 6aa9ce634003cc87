"""The on-demand source's TTL cache and single flight, with time moved by freezegun.

`_list` (the one method that talks to an API server) is replaced by a counter: what is tested
here is the caching logic around it; integration/ tests the real lists.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

from freezegun import freeze_time

from k8s_multicluster_mcp.common.errors import ClusterTimeoutError
from k8s_multicluster_mcp.common.selectors import parse_selector
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.deadlines import Deadline
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.podfilter import Owner, PodFilter
from k8s_multicluster_mcp.model.records import Record, pod_record
from k8s_multicluster_mcp.sources import LiveSource, Snapshot
from k8s_multicluster_mcp.sources.live import field_selector
from tests.conftest import WriteKubeconfig


class CountingSource(LiveSource):
    def __init__(self, registry: ContextRegistry, **kw: float) -> None:
        super().__init__(registry, **kw)  # type: ignore[arg-type]
        self.calls: list[tuple[str, Kind, str | None, str, str]] = []
        self.gate: threading.Event | None = None
        self.items: tuple[Record, ...] = ()

    def _list(
        self, ctx: ContextInfo, key: tuple[str, Kind, str | None, str, str], deadline: Deadline
    ) -> Snapshot:
        self.calls.append(key)
        if self.gate is not None:
            self.gate.wait(5)
        return Snapshot(ctx.name, key[1], self.items, datetime.now(timezone.utc), "live")


def registry(tmp_path: Path, write_kubeconfig: WriteKubeconfig) -> ContextRegistry:
    write_kubeconfig("a", {"one": "https://1", "two": "https://2"})
    return ContextRegistry(directory=tmp_path / "kube")


def test_ttl_expiry(tmp_path: Path, write_kubeconfig: WriteKubeconfig) -> None:
    reg = registry(tmp_path, write_kubeconfig)
    contexts = reg.resolve(None)
    with freeze_time("2026-11-24 12:00:00") as frozen:
        source = CountingSource(reg, ttl=10)
        first = source.fetch(contexts, Kind.POD)
        assert len(source.calls) == 2
        frozen.tick(9)
        again = source.fetch(contexts, Kind.POD)
        assert len(source.calls) == 2, "a burst of questions within the TTL lists once"
        assert again["one"] is first["one"]
        frozen.tick(2)
        source.fetch(contexts, Kind.POD)
        assert len(source.calls) == 4, "after the TTL the list is fetched again"
        source.close()


def test_cache_key_separates_kind_namespace_and_selector(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig
) -> None:
    reg = registry(tmp_path, write_kubeconfig)
    one = reg.resolve("one")
    with freeze_time("2026-11-24 12:00:00"):
        source = CountingSource(reg, ttl=10)
        source.fetch(one, Kind.POD)
        source.fetch(one, Kind.POD, "shop")
        source.fetch(one, Kind.POD, "shop", parse_selector("app=web"))
        source.fetch(one, Kind.DEPLOYMENT, "shop")
        source.fetch(one, Kind.NODE, "ignored-for-cluster-scoped")
        source.fetch(one, Kind.NODE)
        source.fetch(one, Kind.POD, pod_filter=PodFilter(node="n1"))
        source.fetch(one, Kind.POD, pod_filter=PodFilter(node="n1", phase="running"))
        source.fetch(one, Kind.POD, pod_filter=PodFilter(owner=Owner(None, "web")))
        source.fetch(one, Kind.NODE, pod_filter=PodFilter(node="n1"))
        assert [c[1:] for c in source.calls] == [
            (Kind.POD, None, "", ""),
            (Kind.POD, "shop", "", ""),
            (Kind.POD, "shop", "app=web", ""),
            (Kind.DEPLOYMENT, "shop", "", ""),
            (Kind.NODE, None, "", ""),
            (Kind.POD, None, "", "spec.nodeName=n1"),
            (Kind.POD, None, "", "spec.nodeName=n1,status.phase=Running"),
        ], "the owner is filtered after the list (the same list); a pod filter never narrows nodes"
        source.close()


def test_field_selector_pushes_node_and_phase_but_not_unknown() -> None:
    assert field_selector(PodFilter(node="n1", phase="Failed")) == "spec.nodeName=n1,status.phase=Failed"
    assert field_selector(PodFilter(phase="unknown")) == "", "records call a pod without a phase Unknown"
    assert field_selector(PodFilter(owner=Owner("Deployment", "web"))) == ""


def test_owner_is_filtered_after_listing(tmp_path: Path, write_kubeconfig: WriteKubeconfig) -> None:
    reg = registry(tmp_path, write_kubeconfig)
    source = CountingSource(reg, ttl=10)
    source.items = (pod("web-5d8f7-a", "ReplicaSet", "web-5d8f7"), pod("db-0", "StatefulSet", "db"))
    answer = source.fetch(
        reg.resolve("one"), Kind.POD, pod_filter=PodFilter(owner=Owner.parse("Deployment/web"))
    )
    assert isinstance(answer["one"], Snapshot)
    assert [r.name for r in answer["one"].items] == ["web-5d8f7-a"]
    source.close()


def pod(name: str, owner_kind: str, owner_name: str) -> Record:
    raw = {"metadata": {"name": name, "namespace": "shop", "labels": {"pod-template-hash": "5d8f7"},
                        "ownerReferences": [{"kind": owner_kind, "name": owner_name, "controller": True}]},
           "spec": {"containers": [{"name": "app", "image": "w"}]}, "status": {"phase": "Running"}}  # fmt: skip
    return pod_record("one", raw)


def test_ttl_zero_disables_the_cache(tmp_path: Path, write_kubeconfig: WriteKubeconfig) -> None:
    reg = registry(tmp_path, write_kubeconfig)
    source = CountingSource(reg, ttl=0)
    source.fetch(reg.resolve("one"), Kind.POD)
    source.fetch(reg.resolve("one"), Kind.POD)
    assert len(source.calls) == 2
    source.close()


def test_slow_cluster_times_out_then_lands_in_cache(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig
) -> None:
    reg = registry(tmp_path, write_kubeconfig)
    source = CountingSource(reg, ttl=60, timeout=0.2)
    source.gate = threading.Event()
    answer = source.fetch(reg.resolve("one"), Kind.POD)
    assert isinstance(answer["one"], ClusterTimeoutError)
    assert "continues in the background" in answer["one"].message
    again = source.fetch(reg.resolve("one"), Kind.POD)
    assert isinstance(again["one"], ClusterTimeoutError)
    assert len(source.calls) == 1, "a list already running is shared, not started twice"
    source.gate.set()
    for _ in range(50):
        if not source._inflight:
            break
        threading.Event().wait(0.02)
    assert isinstance(source.fetch(reg.resolve("one"), Kind.POD)["one"], Snapshot)
    assert len(source.calls) == 1
    source.close()


def test_a_write_makes_the_next_question_list_again(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig
) -> None:
    reg = registry(tmp_path, write_kubeconfig)
    contexts = reg.resolve(None)
    with freeze_time("2026-11-24 12:00:00"):
        source = CountingSource(reg, ttl=10)
        source.fetch(contexts, Kind.DEPLOYMENT, "shop")
        source.forget("one")
        source.fetch(contexts, Kind.DEPLOYMENT, "shop")
        listed = [c[0] for c in source.calls]  # a question's lists start together, in any order
        assert sorted(listed[:2]) == ["one", "two"] and listed[2:] == ["one"], "only the written one again"
        source.close()


def test_the_cached_kinds_are_listed_as_the_server_whoever_asks(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig
) -> None:
    """Issue 20, rule 2: the lists and their TTL cache are shared by every caller, so no caller's
    identity may reach the request (the query layer filters the answer per caller)."""
    from k8s_multicluster_mcp.common import caller
    from k8s_multicluster_mcp.common.caller import Caller
    from k8s_multicluster_mcp.kube.impersonation import acting_as

    reg = registry(tmp_path, write_kubeconfig)
    seen: list[Caller | None] = []

    class Seeing(CountingSource):
        def _list(
            self, ctx: ContextInfo, key: tuple[str, Kind, str | None, str, str], deadline: Deadline
        ) -> Snapshot:
            seen.append(caller.acting())
            return super()._list(ctx, key, deadline)

    source = Seeing(reg, ttl=0)
    alice = Caller(sub="1", groups=("team-a",), user="alice")
    try:
        with acting_as(alice):
            source.fetch(reg.resolve(None), Kind.POD)
            assert caller.acting() == alice, "the asking thread keeps its caller"
    finally:
        source.close()
    assert seen == [None, None]
