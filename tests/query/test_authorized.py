"""Answers of the shared cache cut to what the acting caller may list: the objects, and every count
built on them (summary, failing pods by reason and context, the total behind "N more", recent
changes). Both ways a source answers are covered: a list the query layer filters, and the watch
cache's per-namespace counts and failing pods (a real `KindStore`). Without a caller nothing
changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.common.caller import Caller
from k8s_multicluster_mcp.common.errors import ClusterError
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.deadlines import Deadline
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.model.changes import ChangeJournal
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import Record
from k8s_multicluster_mcp.query import fleet
from k8s_multicluster_mcp.query.access import Access, Review
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.sources.base import Snapshot
from k8s_multicluster_mcp.sources.watch.store import KindStore
from tests.fakes import NOW, FakeSource, namespace_source, pod

VIEWER = Caller("v", user="viewer")
"""May list pods everywhere in both clusters."""
TEAM = Caller("t", user="team")
"""May list pods in team-a (and team-b where named) of `one`, nothing of `two`."""

PODS: dict[str, list[Record] | ClusterError] = {
    "one": [
        pod("one", "team-a", "web"), pod("one", "team-a", "crash-a", "crashloop"),
        pod("one", "team-b", "crash-b", "crashloop"),
        pod("one", "secret-ns", "hidden", "crashloop"), pod("one", "secret-ns", "hidden-2", "crashloop"),
    ],
    "two": [pod("two", "team-a", "elsewhere", "crashloop")],
}  # fmt: skip


class Rbac:
    """The reviews' answers: (user, context, namespace or None for cluster-wide) allowed."""

    def __init__(self, allowed: set[tuple[str, str, str | None]]) -> None:
        self.allowed = allowed

    def __call__(self, ctx: ContextInfo, review: Review, deadline: Deadline) -> bool:
        return (review.user, ctx.name, review.namespace) in self.allowed


RBAC = {("viewer", "one", None), ("viewer", "two", None), ("team", "one", "team-a")}


class StoreSource(FakeSource):
    """Answers as the watch cache does: from a store, with its counts and failing pods of the
    namespace asked (or of all)."""

    def __init__(self, answers: dict[str, list[Record] | ClusterError]) -> None:
        super().__init__(answers)
        self.stores: dict[str, KindStore] = {}
        for name, records in answers.items():
            self.stores[name] = KindStore(name, Kind.POD)
            self.stores[name].replace(records if isinstance(records, list) else [])

    def answer(
        self, context: str, kind: Kind, namespace: str | None, pod_filter: object
    ) -> Snapshot | ClusterError:
        store = self.stores[context]
        return Snapshot(context, kind, store.select(namespace), NOW, "cache",
                        tally=store.tally(namespace), failing=store.failing(namespace))  # fmt: skip


def listed() -> FakeSource:
    return namespace_source({ctx: ("team-a", "team-b", "secret-ns") for ctx in ("one", "two")})


@pytest.fixture(params=["listed", "store"])
def state(request: pytest.FixtureRequest, two_clusters: ContextRegistry, fanout: Fanout) -> ClusterState:
    source = FakeSource(PODS) if request.param == "listed" else StoreSource(PODS)
    access = Access(two_clusters, fanout, listed(), reviewer=Rbac(set(RBAC)))
    return ClusterState(two_clusters, source, access=access)


@pytest.fixture
def as_team() -> Iterator[None]:
    token = caller.current.set(TEAM)
    yield
    caller.current.reset(token)


def test_without_a_caller_every_object_is_answered(state: ClusterState) -> None:
    result = state.pods()
    assert len(result.items) == 6
    assert [c.note for c in result.clusters] == [None, None]


def test_a_cluster_wide_viewer_sees_what_the_server_sees(state: ClusterState) -> None:
    token = caller.current.set(VIEWER)
    try:
        assert len(state.pods().items) == 6
        assert fleet.failing_pods(state, now=NOW).total == 5
    finally:
        caller.current.reset(token)


@pytest.mark.usefixtures("as_team")
def test_a_limited_caller_gets_its_namespaces_only_and_the_report_says_so(state: ClusterState) -> None:
    result = state.pods()
    assert [(p.context, p.name) for p in result.items] == [("one", "crash-a"), ("one", "web")]
    one, two = result.clusters
    assert (one.status, one.count, one.note) == (
        "ok", 2, "namespace team-a only: may not list pods in all namespaces",
    )  # fmt: skip
    assert (two.status, two.error) == ("forbidden", "forbidden for team: cannot list pods")
    assert state.last_reports == {}, "a report cut to one caller is not the context's status"


@pytest.mark.usefixtures("as_team")
def test_counts_leak_nothing_of_namespaces_the_caller_may_not_list(state: ClusterState) -> None:
    answer = fleet.failing_pods(state, now=NOW, limit=0)
    assert (answer.total, answer.by_context, answer.by_reason) == (1, {"one": 1}, {"CrashLoopBackOff": 1})
    assert [f.name for f in fleet.failing_pods(state, now=NOW).items] == ["crash-a"]
    summary = fleet.summary(state, now=NOW)
    row = next(item for item in summary.items if item.context == "one")
    assert (row.pods_by_phase, row.failing_by_reason) == ({"Running": 2}, {"CrashLoopBackOff": 1})
    found = fleet.find_pods(state, name="hidden")
    assert (found.items, found.total) == ([], 0)


def test_several_namespaces_are_named_and_counted_together(state: ClusterState, fanout: Fanout) -> None:
    state.access = Access(state.registry, fanout, listed(), reviewer=Rbac(RBAC | {("team", "one", "team-b")}))
    token = caller.current.set(TEAM)
    try:
        result = state.pods("one")
        answer = fleet.failing_pods(state, "one", now=NOW, limit=1)
    finally:
        caller.current.reset(token)
    assert sorted(p.name for p in result.items) == ["crash-a", "crash-b", "web"]
    assert result.clusters[0].note == "namespaces team-a, team-b only: may not list pods in all namespaces"
    assert (len(answer.items), answer.total) == (1, 2), "the `N more` counts visible pods only"


@pytest.mark.usefixtures("as_team")
def test_a_namespace_the_caller_may_not_list_is_forbidden_for_it(state: ClusterState) -> None:
    result = state.pods("one", namespace="secret-ns")
    assert (result.items, result.clusters[0].status) == ([], "forbidden")
    assert result.clusters[0].error == "forbidden for team: cannot list pods in namespace secret-ns"
    assert [p.name for p in state.pods("one", namespace="team-a").items] == ["crash-a", "web"]


def test_recent_changes_show_only_what_the_caller_may_list(
    two_clusters: ContextRegistry, fanout: Fanout
) -> None:
    journal = ChangeJournal(clock=lambda: NOW)
    store = KindStore("one", Kind.POD, journal.record)
    store.replace([])
    for record in PODS["one"]:  # type: ignore[union-attr]
        store.upsert(record)
    source = StoreSource(PODS)
    access = Access(two_clusters, fanout, listed(), reviewer=Rbac(set(RBAC)))
    state = ClusterState(two_clusters, source, journal=journal, access=access)
    everything, _ = fleet.recent_changes(state, 10, "one", now=NOW + timedelta(seconds=1))
    token = caller.current.set(TEAM)
    try:
        limited, _ = fleet.recent_changes(state, 10, "one", now=NOW + timedelta(seconds=1))
    finally:
        caller.current.reset(token)
    assert {c.namespace for c in everything.items} == {"team-a", "team-b", "secret-ns"}
    assert {c.namespace for c in limited.items} == {"team-a"}
