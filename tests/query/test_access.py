"""The access decisions: what a caller may list, cached per identity for a while (an injected
clock), cluster-wide first and per known namespace where that is denied. The reviews are a table
(the SubjectAccessReview call itself is tested against a real API server in integration)."""

from __future__ import annotations

import threading

import pytest

from k8s_multicluster_mcp.common.caller import Caller
from k8s_multicluster_mcp.common.errors import ClusterError, ClusterForbiddenError
from k8s_multicluster_mcp.kube import deadlines
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.deadlines import Deadline
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.query.access import EVERYTHING, NOTHING, Access, Review, Scope, denied
from tests.fakes import FakeSource, namespace_source

ALICE = Caller("a-sub", user="alice", groups=("devs",))
BOB = Caller("b-sub", user="bob")


class Table:
    """Reviews answered from a set of (user, resource, namespace or None) allowed; counts asks."""

    def __init__(self, allowed: set[tuple[str, str, str | None]]) -> None:
        self.allowed = allowed
        self.asked: list[tuple[str, str, str, str | None]] = []
        self.fail: ClusterError | None = None

    def __call__(self, ctx: ContextInfo, review: Review, deadline: Deadline) -> bool:
        self.asked.append((ctx.name, review.user, review.resource, review.namespace))
        if self.fail is not None:
            raise self.fail
        return (review.user, review.resource, review.namespace) in self.allowed


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(
    two_clusters: ContextRegistry, fanout: Fanout, table: Table, clock: Clock | None = None
) -> tuple[Access, FakeSource]:
    source = namespace_source({"one": ("team-a", "team-b", "prod"), "two": ("x",)})
    return Access(two_clusters, fanout, source, ttl=10, timer=clock or Clock(), reviewer=table), source


def test_cluster_wide_allowed_is_everything_and_lists_no_namespaces(
    two_clusters: ContextRegistry, fanout: Fanout
) -> None:
    table = Table({("alice", "pods", None)})
    access, source = make(two_clusters, fanout, table)
    one = two_clusters.resolve("one")
    assert access.scopes(ALICE, one, Kind.POD) == {"one": EVERYTHING}
    assert table.asked == [("one", "alice", "pods", None)]
    assert source.asked == [], "the namespaces are listed only where cluster-wide is denied"


def test_denied_cluster_wide_asks_each_known_namespace(two_clusters: ContextRegistry, fanout: Fanout) -> None:
    table = Table({("alice", "pods", "team-a"), ("alice", "pods", "team-b")})
    access, _ = make(two_clusters, fanout, table)
    scopes = access.scopes(ALICE, two_clusters.resolve(None), Kind.POD)
    assert scopes == {"one": Scope(frozenset({"team-a", "team-b"})), "two": NOTHING}
    assert sorted((a for a in table.asked if a[0] == "one"), key=lambda a: a[3] or "") == [
        ("one", "alice", "pods", None), ("one", "alice", "pods", "prod"),
        ("one", "alice", "pods", "team-a"), ("one", "alice", "pods", "team-b"),
    ]  # fmt: skip


def test_cluster_scoped_kinds_have_the_cluster_wide_decision_only(
    two_clusters: ContextRegistry, fanout: Fanout
) -> None:
    table = Table({("alice", "nodes", "team-a")})
    access, source = make(two_clusters, fanout, table)
    assert access.scopes(ALICE, two_clusters.resolve("one"), Kind.NODE) == {"one": NOTHING}
    assert table.asked == [("one", "alice", "nodes", None)]
    assert source.asked == []


def test_decisions_are_kept_for_the_ttl_then_asked_again(
    two_clusters: ContextRegistry, fanout: Fanout
) -> None:
    table, clock = Table({("alice", "pods", None)}), Clock()
    access, _ = make(two_clusters, fanout, table, clock)
    one = two_clusters.resolve("one")
    access.scopes(ALICE, one, Kind.POD)
    clock.now += 9.9
    access.scopes(ALICE, one, Kind.POD)
    assert len(table.asked) == 1, "within the TTL the decision is reused"
    table.allowed.clear()
    clock.now += 0.2
    assert access.scopes(ALICE, one, Kind.POD)["one"] == NOTHING
    assert len(table.asked) > 1, "after the TTL the cluster is asked again, and its new answer holds"


def test_a_decision_is_never_served_to_another_identity(
    two_clusters: ContextRegistry, fanout: Fanout
) -> None:
    table = Table({("alice", "pods", None)})
    access, _ = make(two_clusters, fanout, table)
    one = two_clusters.resolve("one")
    assert access.scopes(ALICE, one, Kind.POD)["one"] == EVERYTHING
    assert access.scopes(BOB, one, Kind.POD)["one"] == NOTHING
    same_user_other_groups = Caller("a-sub", user="alice", groups=("admins",))
    access.scopes(same_user_other_groups, one, Kind.POD)
    assert [a[1] for a in table.asked if a[3] is None] == ["alice", "bob", "alice"], (
        "another user, or the same user with other groups, is asked anew"
    )


def test_a_failed_review_is_that_contexts_error_and_is_not_kept(
    two_clusters: ContextRegistry, fanout: Fanout
) -> None:
    table = Table({("alice", "pods", None)})
    table.fail = ClusterError("connection refused")
    access, _ = make(two_clusters, fanout, table)
    one = two_clusters.resolve("one")
    assert isinstance(access.scopes(ALICE, one, Kind.POD)["one"], ClusterError)
    table.fail = None
    assert access.scopes(ALICE, one, Kind.POD)["one"] == EVERYTHING


def test_scope_of_one_context_with_the_namespaces_given(
    two_clusters: ContextRegistry, fanout: Fanout
) -> None:
    table = Table({("alice", "deployments", "prod")})
    access, source = make(two_clusters, fanout, table)
    ctx = two_clusters.resolve("one")[0]
    assert access.scope(ALICE, ctx, Kind.DEPLOYMENT, ["prod", "dev"]) == Scope(frozenset({"prod"}))
    assert source.asked == [], "namespaces given: none listed"
    table.fail = ClusterError("boom")
    with pytest.raises(ClusterError):
        access.scope(BOB, ctx, Kind.DEPLOYMENT, ["prod"])


def test_namespaces_for_the_acting_caller(two_clusters: ContextRegistry, fanout: Fanout) -> None:
    from k8s_multicluster_mcp.common import caller

    table = Table({("alice", "configmaps", "team-b"), ("alice", "secrets", None)})
    access, _ = make(two_clusters, fanout, table)
    ctx = two_clusters.resolve("one")[0]
    assert access.namespaces_for(ctx, "", "configmaps") is None, "no caller: no narrowing"
    token = caller.current.set(ALICE)
    try:
        assert access.namespaces_for(ctx, "", "configmaps") == ["team-b"]
        assert access.namespaces_for(ctx, "", "secrets") is None
    finally:
        caller.current.reset(token)


def test_scope_allows_and_the_denial_names_the_caller() -> None:
    assert EVERYTHING.allows("x") and EVERYTHING.allows(None)
    limited = Scope(frozenset({"team-a"}))
    assert limited.allows("team-a") and not limited.allows("prod") and not limited.allows(None)
    assert NOTHING.nothing and not limited.nothing and not EVERYTHING.nothing
    error = denied(ALICE, "pods", "prod")
    assert isinstance(error, ClusterForbiddenError)
    assert error.message == "forbidden for alice: cannot list pods in namespace prod"


def test_kept_decisions_are_bounded(two_clusters: ContextRegistry, fanout: Fanout) -> None:
    table = Table({("alice", "pods", None), ("bob", "pods", None)})
    source = namespace_source({"one": (), "two": ()})
    access = Access(two_clusters, fanout, source, ttl=10, timer=Clock(), reviewer=table, max_entries=1)
    one = two_clusters.resolve("one")
    for who in (ALICE, BOB, ALICE):
        assert access.scopes(who, one, Kind.POD)["one"] == EVERYTHING
    assert len(table.asked) == 3, "one entry kept: each caller's decision pushed out the other's"


def test_inside_a_call_to_a_cluster_the_reviews_run_in_that_thread(
    two_clusters: ContextRegistry, fanout: Fanout
) -> None:
    from k8s_multicluster_mcp.common import caller

    threads: list[int] = []
    table = Table({("alice", "configmaps", "team-b")})

    def recording(ctx: ContextInfo, review: Review, deadline: Deadline) -> bool:
        threads.append(threading.get_ident())
        return table(ctx, review, deadline)

    source = namespace_source({"one": ("team-a", "team-b"), "two": ()})
    access = Access(two_clusters, fanout, source, reviewer=recording)
    token = caller.current.set(ALICE)
    try:
        with deadlines.deadline(5):  # as a live read does, in a Fanout worker
            assert access.namespaces_for(two_clusters.resolve("one")[0], "", "configmaps") == ["team-b"]
    finally:
        caller.current.reset(token)
    assert set(threads) == {threading.get_ident()}, "no other worker waited for"
