"""The query layer against a fake source: which clusters a question reaches, the reports of those
that answered and of those that did not, the context-namespace fallback, stale data, selectors,
and the fleet questions built on it. No cluster: the source is a table of snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8s_multicluster_mcp.common.errors import (
    ClusterForbiddenError,
    ClusterUnreachableError,
    NotFoundError,
)
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.query import fleet
from k8s_multicluster_mcp.query.state import ClusterState
from tests.conftest import WriteKubeconfig
from tests.fakes import NOW, FakeSource, pod


@pytest.fixture
def registry(write_kubeconfig: WriteKubeconfig, tmp_path: Path) -> ContextRegistry:
    write_kubeconfig(
        "fleet.yaml", {"a": "https://127.0.0.1:1", "b": "https://127.0.0.1:2", "c": "https://127.0.0.1:3"}
    )
    return ContextRegistry(directory=tmp_path / "kube")


def test_every_cluster_asked_gets_a_report_and_the_answers_are_merged_in_order(
    registry: ContextRegistry,
) -> None:
    source = FakeSource({
        "a": [pod("a", "shop", "web-2"), pod("a", "shop", "web-1")],
        "b": ClusterUnreachableError("connection refused"),
        "c": [pod("c", "ops", "job")],
    })  # fmt: skip
    result = ClusterState(registry, source).pods()
    assert [(p.context, p.name) for p in result.items] == [("a", "web-1"), ("a", "web-2"), ("c", "job")]
    assert [(c.context, c.status, c.count, c.source) for c in result.clusters] == [
        ("a", "ok", 2, "cache"), ("b", "unreachable", 0, None), ("c", "ok", 1, "cache"),
    ]  # fmt: skip
    assert result.clusters[1].error == "connection refused"


def test_a_question_reaches_only_the_contexts_it_names(registry: ContextRegistry) -> None:
    source = FakeSource({"a": [], "b": [], "c": []})
    ClusterState(registry, source).pods(context="a,c")
    assert [name for name, _ in source.asked] == ["a", "c"]


def test_where_every_namespace_is_forbidden_the_contexts_namespace_answers(
    write_kubeconfig: WriteKubeconfig, tmp_path: Path
) -> None:
    path = write_kubeconfig("v.yaml", {"viewer": "https://127.0.0.1:9"})
    text = path.read_text().replace("user: viewer-user", "user: viewer-user\n    namespace: team-a")
    path.write_text(text)
    registry = ContextRegistry(directory=tmp_path / "kube")
    source = FakeSource({"viewer": [pod("viewer", "team-a", "mine"), pod("viewer", "other", "not-mine")]},
                        forbidden_cluster_wide=frozenset({"viewer"}))  # fmt: skip
    result = ClusterState(registry, source).pods()
    assert source.asked == [("viewer", None), ("viewer", "team-a")]
    assert [p.name for p in result.items] == ["mine"]
    assert result.clusters[0].note == "namespace team-a only: may not list pods in all namespaces"


def test_stale_data_is_shown_but_counts_as_not_answering(registry: ContextRegistry) -> None:
    source = FakeSource({"a": [pod("a", "shop", "old")], "b": [], "c": []}, stale=frozenset({"a"}))
    result = ClusterState(registry, source).pods()
    report = result.clusters[0]
    assert (report.status, report.error, report.note) == (
        "stale",
        "watch down since 11:58 (unreachable)",
        None,
    )
    assert [p.name for p in result.items] == ["old"]
    assert [c.context for c in result.failed] == ["a"]


def test_namespace_and_selector_filter_what_a_source_returns(registry: ContextRegistry) -> None:
    source = FakeSource({"a": [pod("a", "shop", "web", tier="front"), pod("a", "shop", "db", tier="back"),
                               pod("a", "ops", "tool", tier="front")], "b": [], "c": []})  # fmt: skip
    result = ClusterState(registry, source).pods("a", "shop", "tier=front")
    assert [p.name for p in result.items] == ["web"]
    assert result.clusters[0].count == 1


def test_get_says_where_it_looked_when_nothing_has_that_name(registry: ContextRegistry) -> None:
    source = FakeSource({"a": [pod("a", "shop", "web")], "b": [], "c": []})
    with pytest.raises(NotFoundError, match="Pod 'nope' not found in: a, b, c"):
        ClusterState(registry, source).get(Kind.POD, "nope")


def test_the_failing_pods_question_over_the_fake_source(registry: ContextRegistry) -> None:
    source = FakeSource({
        "a": [pod("a", "shop", "web"), pod("a", "shop", "crash", "crashloop")],
        "b": ClusterForbiddenError("pods is forbidden"),
        "c": [pod("c", "shop", "crash-too", "crashloop")],
    })  # fmt: skip
    answer = fleet.failing_pods(ClusterState(registry, source), now=NOW)
    assert [(f.context, f.name, f.reason) for f in answer.items] == [
        ("a", "crash", "CrashLoopBackOff"), ("c", "crash-too", "CrashLoopBackOff"),
    ]  # fmt: skip
    assert [c.status for c in answer.clusters] == ["ok", "forbidden", "ok"]
    assert ClusterState(registry, source).last_reports == {}, "each state keeps its own last reports"
