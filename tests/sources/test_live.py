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
from k8s_multicluster_mcp.sources import LiveSource, Snapshot
from tests.conftest import WriteKubeconfig


class CountingSource(LiveSource):
    def __init__(self, registry: ContextRegistry, **kw: float) -> None:
        super().__init__(registry, **kw)  # type: ignore[arg-type]
        self.calls: list[tuple[str, Kind, str | None, str]] = []
        self.gate: threading.Event | None = None

    def _list(
        self, ctx: ContextInfo, kind: Kind, namespace: str | None, selector: str, deadline: Deadline
    ) -> Snapshot:
        self.calls.append((ctx.name, kind, namespace, selector))
        if self.gate is not None:
            self.gate.wait(5)
        return Snapshot(ctx.name, kind, (), datetime.now(timezone.utc), "live")


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
        assert [c[1:] for c in source.calls] == [
            (Kind.POD, None, ""),
            (Kind.POD, "shop", ""),
            (Kind.POD, "shop", "app=web"),
            (Kind.DEPLOYMENT, "shop", ""),
            (Kind.NODE, None, ""),
        ]
        source.close()


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
        assert [c[0] for c in source.calls] == ["one", "two", "one"], "only the written context lists again"
        source.close()
