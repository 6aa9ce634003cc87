"""The query layer against a fake source: which clusters a question reaches, the reports of those
that answered and of those that did not, the context-namespace fallback, stale data, selectors,
and the fleet questions built on it. No cluster: the source is a table of snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from k8s_multicluster_mcp.common.errors import (
    ClusterError,
    ClusterForbiddenError,
    ClusterUnreachableError,
    NotFoundError,
)
from k8s_multicluster_mcp.common.selectors import LabelSelector
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.podfilter import PodFilter
from k8s_multicluster_mcp.model.records import Record, pod_record
from k8s_multicluster_mcp.query import fleet
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.sources.base import CacheStatus, Snapshot
from tests.conftest import WriteKubeconfig

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def pod(context: str, namespace: str, name: str, status: str = "running", **labels: str) -> Record:
    states: dict[str, Any] = {
        "running": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [{"name": "app", "ready": True, "state": {"running": {}}}]},
        "crashloop": {"phase": "Running", "containerStatuses": [{"name": "app", "restartCount": 3,
                      "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                      "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]},
    }  # fmt: skip
    raw = {"metadata": {"name": name, "namespace": namespace, "labels": labels,
                        "creationTimestamp": "2026-12-01T11:00:00Z"},
           "spec": {"containers": [{"name": "app", "image": "w"}]}, "status": states[status]}  # fmt: skip
    return pod_record(context, raw)


class FakeSource:
    """Answers from a table: context -> pods, or the error that context gives; records what was
    asked so a test can see the fallback's second question."""

    def __init__(self, answers: dict[str, list[Record] | ClusterError], *, stale: frozenset[str] = frozenset(),
                 forbidden_cluster_wide: frozenset[str] = frozenset()) -> None:  # fmt: skip
        self.answers = answers
        self.stale = stale
        self.forbidden_cluster_wide = forbidden_cluster_wide
        self.asked: list[tuple[str, str | None]] = []

    def fetch(
        self,
        contexts: Sequence[ContextInfo],
        kind: Kind,
        namespace: str | None = None,
        selector: LabelSelector | None = None,
        attention_only: bool = False,
        pod_filter: PodFilter | None = None,
    ) -> dict[str, Snapshot | ClusterError]:
        out: dict[str, Snapshot | ClusterError] = {}
        for ctx in contexts:
            self.asked.append((ctx.name, namespace))
            answer = self.answers[ctx.name]
            if isinstance(answer, ClusterError):
                out[ctx.name] = answer
            elif ctx.name in self.forbidden_cluster_wide and namespace is None:
                out[ctx.name] = ClusterForbiddenError("pods is forbidden at the cluster scope")
            else:
                stale = ctx.name in self.stale
                out[ctx.name] = Snapshot(ctx.name, kind, tuple(answer), NOW, "cache", stale=stale,
                                         note="watch down since 11:58 (unreachable)" if stale else None)  # fmt: skip
        return out

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def cache_status(self) -> CacheStatus | None:
        return None


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
