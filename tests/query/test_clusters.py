"""One cluster counted once: several asked contexts that reach the same cluster (same server and
CA) are listed and counted once, from the context with the broadest view, and the report names
the contexts it stands for. A context asked alone keeps its own view."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8s_multicluster_mcp.common.errors import ClusterError, ClusterTimeoutError, ClusterUnreachableError
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.podfilter import PodFilter
from k8s_multicluster_mcp.model.records import Record
from k8s_multicluster_mcp.query import fleet
from k8s_multicluster_mcp.query.results import one_per_cluster
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.sources.base import Snapshot
from tests.conftest import WriteKubeconfig
from tests.fakes import NOW, FakeSource, pod


@pytest.fixture
def registry(write_kubeconfig: WriteKubeconfig, tmp_path: Path) -> ContextRegistry:
    path = write_kubeconfig(
        "fleet.yaml",
        {
            "admin": "https://10.0.0.1:6443",
            "viewer": "https://10.0.0.1:6443/",
            "other": "https://10.0.0.2:6443",
        },
    )
    path.write_text(path.read_text().replace("user: viewer-user", "user: viewer-user\n    namespace: team-a"))
    return ContextRegistry(directory=tmp_path / "kube")


def test_contexts_of_one_server_and_ca_are_one_cluster(registry: ContextRegistry) -> None:
    ctx = registry.inventory().contexts
    assert ctx["admin"].cluster_key == ctx["viewer"].cluster_key != ctx["other"].cluster_key
    # Same cluster and the same credentials (the fixture's token): one identity.
    assert ctx["admin"].identity_key == ctx["viewer"].identity_key


def test_the_cluster_key_follows_the_ca_and_the_identity_key_the_credentials(
    write_kubeconfig: WriteKubeconfig, tmp_path: Path
) -> None:
    write_kubeconfig("a.yaml", {"a": "https://Host.example:443"}, user={"token": "one"})
    write_kubeconfig("b.yaml", {"b": "https://host.example"}, user={"token": "two"})
    path = write_kubeconfig("c.yaml", {"c": "https://host.example"}, user={"token": "one"})
    path.write_text(path.read_text().replace("server:", "certificate-authority-data: Y2EK\n    server:"))
    ctx = ContextRegistry(directory=tmp_path / "kube").inventory().contexts
    assert ctx["a"].cluster_key == ctx["b"].cluster_key != ctx["c"].cluster_key
    assert ctx["a"].identity_key != ctx["b"].identity_key
    assert "one" not in (ctx["a"].identity_key or "")


def test_a_cluster_seen_through_two_contexts_is_listed_once_and_names_both(registry: ContextRegistry) -> None:
    source = FakeSource({
        "admin": [pod("admin", "shop", "web", "crashloop"), pod("admin", "team-a", "api")],
        "viewer": [pod("viewer", "team-a", "api")],
        "other": [pod("other", "ops", "job", "crashloop")],
    })  # fmt: skip
    state = ClusterState(registry, source)
    result = state.pods()
    assert [(p.context, p.name) for p in result.items] == [
        ("admin", "web"),
        ("admin", "api"),
        ("other", "job"),
    ]
    assert [(c.context, c.also) for c in result.clusters] == [("admin", ("viewer",)), ("other", ())]
    failing = fleet.failing_pods(state, now=NOW)
    assert failing.by_context == {"admin": 1, "other": 1}
    assert [c.context for c in fleet.summary(state, now=NOW).items] == ["admin", "other"]


def test_a_context_asked_by_name_keeps_its_own_view(registry: ContextRegistry) -> None:
    source = FakeSource({"admin": [pod("admin", "shop", "web")], "viewer": [pod("viewer", "team-a", "api")],
                         "other": []})  # fmt: skip
    result = ClusterState(registry, source).pods(context="viewer")
    assert [(p.context, p.name) for p in result.items] == [("viewer", "api")]
    assert result.clusters[0].also == ()


def test_the_broadest_answer_stands_for_the_cluster(registry: ContextRegistry) -> None:
    # The admin context cannot be reached but the viewer can: the viewer answers for the cluster.
    source = FakeSource({"admin": ClusterUnreachableError("connection refused"),
                         "viewer": [pod("viewer", "team-a", "api")], "other": []})  # fmt: skip
    result = ClusterState(registry, source).pods()
    assert [(c.context, c.status, c.also) for c in result.clusters] == [
        ("viewer", "ok", ("admin",)), ("other", "ok", ()),
    ]  # fmt: skip
    # Narrowed to its namespace, it says which broader view failed.
    source = FakeSource({"admin": ClusterUnreachableError("connection refused"),
                         "viewer": [pod("viewer", "team-a", "api")], "other": []},
                        forbidden_cluster_wide=frozenset({"viewer"}))  # fmt: skip
    report = ClusterState(registry, source).pods().clusters[0]
    assert (report.context, report.note) == (
        "viewer",
        "namespace team-a only: may not list pods in all namespaces; admin: unreachable",
    )
    # Narrowed to its namespace, the viewer loses to the admin's answer over every namespace.
    source = FakeSource({"admin": [pod("admin", "shop", "web")], "viewer": [pod("viewer", "team-a", "api")],
                         "other": []}, forbidden_cluster_wide=frozenset({"viewer"}))  # fmt: skip
    result = ClusterState(registry, source).pods()
    assert [(c.context, c.also) for c in result.clusters] == [("admin", ("viewer",)), ("other", ())]


def test_answers_narrowed_to_different_namespaces_are_kept_together(
    write_kubeconfig: WriteKubeconfig, tmp_path: Path
) -> None:
    path = write_kubeconfig("t.yaml", {"team-a": "https://10.0.0.1", "team-b": "https://10.0.0.1",
                                       "team-a2": "https://10.0.0.1"})  # fmt: skip
    text = path.read_text()
    for name, ns in (("team-a", "a"), ("team-b", "b"), ("team-a2", "a")):
        text = text.replace(f"user: {name}-user", f"user: {name}-user\n    namespace: {ns}")
    path.write_text(text)
    contexts = list(ContextRegistry(directory=tmp_path / "kube").inventory().contexts.values())
    answers = {c.name: object() for c in contexts}
    kept, also = one_per_cluster(contexts, answers, narrowed={"team-a", "team-b", "team-a2"})
    assert [c.name for c in kept] == ["team-a", "team-b"]
    assert also == {"team-a": ("team-a2",), "team-b": ()}


class PodsFailFor(FakeSource):
    """Like FakeSource, but `broken` cannot list pods (its other kinds answer)."""

    def __init__(self, answers: dict[str, list[Record] | ClusterError], broken: str) -> None:
        super().__init__(answers)
        self.broken = broken

    def answer(
        self, context: str, kind: Kind, namespace: str | None, pod_filter: PodFilter | None
    ) -> Snapshot | ClusterError:
        if kind is Kind.POD and context == self.broken:
            return ClusterTimeoutError("no complete answer within 5s")
        return super().answer(context, kind, namespace, pod_filter)


def test_a_summary_row_per_cluster_even_when_its_contexts_answer_different_kinds(
    registry: ContextRegistry,
) -> None:
    source = PodsFailFor({"admin": [], "viewer": [pod("viewer", "team-a", "api", "crashloop")], "other": []},
                         broken="admin")  # fmt: skip
    answer = fleet.summary(ClusterState(registry, source), now=NOW)
    assert [(s.context, s.failing_by_reason) for s in answer.items] == [
        ("viewer", {"CrashLoopBackOff": 1}), ("other", {}),
    ]  # fmt: skip
    assert [(c.context, c.also) for c in answer.clusters] == [("viewer", ("admin",)), ("other", ())]
