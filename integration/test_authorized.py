"""Answers of the shared cache cut to each caller's RBAC, on real API servers (issue 20 items 3-4).

Two callers whose rights the test creates: a viewer that may list pods, deployments and nodes
everywhere in two clusters, and a team member that may list pods and deployments in one namespace
of the first cluster and nothing in the second. The server reads with the fleet's admin identity
(which creates the SubjectAccessReviews) in both source modes, in process: the watch cache
(`WatchSource`) and on demand (`LiveSource` with its TTL cache, shared by both callers). Each
caller is set in `caller.current` around the questions, as the token verifier does, alternating,
and gets exactly what its RBAC allows, counts included; pods seeded in a namespace only the viewer
may list appear in no answer to the team member: not as items, counts, `N more`, or changes.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kubernetes.client import RbacAuthorizationV1Api

from integration import seed
from integration.backends import Fleet
from integration.test_fleet import eventually
from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.common.caller import Caller
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.model.changes import ChangeJournal
from k8s_multicluster_mcp.query import fleet as queries
from k8s_multicluster_mcp.query.access import Access
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.sources import LiveSource
from k8s_multicluster_mcp.sources.watch import WatchSource

TIMEOUT = 5.0
SUFFIX = secrets.token_hex(3)
VIEWER = Caller("viewer-sub", user=f"viewer-{SUFFIX}@example.com")
TEAM = Caller("team-sub", user=f"team-{SUFFIX}@example.com", groups=(f"devs-{SUFFIX}",))
TEAM_NS = f"team-a-{SUFFIX}"
HIDDEN_NS = f"hidden-{SUFFIX}"


@contextmanager
def acting(who: Caller) -> Iterator[None]:
    token = caller.current.set(who)
    try:
        yield
    finally:
        caller.current.reset(token)


def _rule(resources: list[str], group: str = "") -> dict[str, Any]:
    return {"apiGroups": [group], "resources": resources, "verbs": ["get", "list", "watch"]}


RULES = [_rule(["pods", "nodes", "namespaces", "events"]), _rule(["deployments"], "apps")]


def _subject(kind: str, name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


@pytest.fixture(scope="module")
def seeded(fleet: Fleet) -> Iterator[list[str]]:
    """Two clusters: in the first a team namespace (one running, one crash-looping pod) and a
    hidden one (two crash-looping pods); in the second a crash-looping pod in the team's
    namespace. RBAC: the viewer cluster-wide in both; the team member (by its group) in the team
    namespace of the first only."""
    first, second = fleet.contexts[:2]
    names = f"authz-{SUFFIX}"
    for ctx in (first, second):
        admin = fleet.admin(ctx)
        for ns in (TEAM_NS, HIDDEN_NS):
            seed.create_namespace(admin, ns)
        rbac = RbacAuthorizationV1Api(admin)
        rbac.create_cluster_role({"metadata": {"name": names}, "rules": RULES})
        rbac.create_cluster_role_binding({
            "metadata": {"name": names},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": names},
            "subjects": [_subject("User", VIEWER.user or "")],
        })  # fmt: skip
    RbacAuthorizationV1Api(fleet.admin(first)).create_namespaced_role_binding(
        TEAM_NS,
        {
            "metadata": {"name": names},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": names},
            "subjects": [_subject("Group", TEAM.groups[0])],
        },
    )
    pods = [(first, TEAM_NS, "team-web", "running"), (first, TEAM_NS, "team-crash", "crashloop"),
            (first, HIDDEN_NS, "hidden-crash", "crashloop"), (first, HIDDEN_NS, "hidden-oom", "oom_killed"),
            (second, TEAM_NS, "second-crash", "crashloop")]  # fmt: skip
    for ctx, ns, name, preset in pods:
        seed.create_pod(fleet.admin(ctx), ns, name)
        seed.set_pod_status(fleet.admin(ctx), ns, name, preset)
    yield [first, second]
    for ctx in (first, second):
        rbac = RbacAuthorizationV1Api(fleet.admin(ctx))
        rbac.delete_cluster_role_binding(names)
        rbac.delete_cluster_role(names)
        for ns in (TEAM_NS, HIDDEN_NS):
            seed.delete_namespace(fleet.admin(ctx), ns)


@pytest.fixture(scope="module", params=["live", "watch"])
def state(request: pytest.FixtureRequest, fleet: Fleet, seeded: list[str]) -> Iterator[ClusterState]:
    """The server's query state as `server.build_services` makes it with --authorize-as-caller:
    one Fanout, the live source with its TTL cache (shared by every caller), the watch cache in
    front of it in watch mode, and the access decisions."""
    registry = ContextRegistry(directory=fleet.kubeconfig_dir)
    fanout = Fanout(timeout=TIMEOUT)
    live = LiveSource(registry, timeout=TIMEOUT, ttl=10, fanout=fanout)
    access = Access(registry, fanout, live, ttl=10)
    if request.param == "live":
        yield ClusterState(registry, live, access=access)
    else:
        journal = ChangeJournal()
        watch = WatchSource(registry, live, request_timeout=TIMEOUT, on_change=journal.record)
        watch.start()
        made = ClusterState(registry, watch, journal=journal, access=access)
        eventually(lambda: _synced(made, seeded), timeout=30)
        # A change after the watch synced in each namespace, for the journal (restarts rose).
        for ns, name in ((HIDDEN_NS, "hidden-crash"), (TEAM_NS, "team-crash")):
            seed.set_pod_status(fleet.admin(seeded[0]), ns, name, "crashloop", restarts=6)
        eventually(lambda: _changed(made, seeded), timeout=30)
        yield made
        watch.close()
    fanout.close()


def _synced(state: ClusterState, contexts: list[str]) -> None:
    result = state.pods(contexts, HIDDEN_NS)
    assert [c.source for c in result.clusters] == ["cache", "cache"]
    assert len(result.items) == 2


def _changed(state: ClusterState, contexts: list[str]) -> None:
    changes, _ = queries.recent_changes(state, 10, contexts[0])
    assert {c.namespace for c in changes.items} >= {TEAM_NS, HIDDEN_NS}


def ours(names: list[str]) -> list[str]:
    return sorted(n for n in names if n.endswith(("-web", "-crash", "-oom")))


def test_each_caller_gets_exactly_what_its_rbac_allows(state: ClusterState, seeded: list[str]) -> None:
    first, _ = seeded
    for _round in range(2):  # alternating: one caller's answer is never the other's
        with acting(VIEWER):
            pods = state.pods(seeded)
            viewer_failing = queries.failing_pods(state, seeded, limit=1)
        with acting(TEAM):
            team_pods = state.pods(seeded)
            team_failing = queries.failing_pods(state, seeded, limit=1)
        assert ours([p.name for p in pods.items]) == [
            "hidden-crash", "hidden-oom", "second-crash", "team-crash", "team-web",
        ]  # fmt: skip
        assert [c.status for c in pods.clusters] == ["ok", "ok"]
        assert viewer_failing.total >= 4 and len(viewer_failing.items) == 1

        assert [(p.context, p.name) for p in team_pods.items] == [(first, "team-crash"), (first, "team-web")]
        one, two = team_pods.clusters
        assert (one.status, one.count, one.note) == (
            "ok", 2, f"namespace {TEAM_NS} only: may not list pods in all namespaces",
        )  # fmt: skip
        assert (two.status, two.error) == ("forbidden", f"forbidden for {TEAM.user}: cannot list pods")
        assert (team_failing.total, team_failing.by_context) == (1, {first: 1})
        assert [f.name for f in team_failing.items] == ["team-crash"]


def test_counts_and_searches_leak_nothing_to_the_team_member(state: ClusterState, seeded: list[str]) -> None:
    first, _ = seeded
    with acting(TEAM):
        summary = queries.summary(state, seeded)
        found = queries.find_pods(state, seeded, name="hidden")
        in_hidden = state.pods(first, HIDDEN_NS)
        changes, _ = queries.recent_changes(state, 10, seeded)
        deployments = state.deployments(seeded)
    row = next(item for item in summary.items if item.context == first)
    assert sum((row.pods_by_phase or {}).values()) == 2
    assert row.failing_by_reason == {"CrashLoopBackOff": 1}
    assert row.nodes is None, "nodes: the team member may not list them"
    assert (found.items, found.total) == ([], 0)
    assert (in_hidden.items, in_hidden.clusters[0].status) == ([], "forbidden")
    assert (
        in_hidden.clusters[0].error == f"forbidden for {TEAM.user}: cannot list pods in namespace {HIDDEN_NS}"
    )
    assert all(c.namespace == TEAM_NS for c in changes.items)
    assert (
        deployments.clusters[0].note
        == f"namespace {TEAM_NS} only: may not list deployments in all namespaces"
    )
    text = repr((summary, found, changes))
    assert "hidden" not in text and HIDDEN_NS not in text
    with acting(VIEWER):
        assert queries.find_pods(state, seeded, name="hidden").total == 2


def test_without_a_caller_the_server_sees_everything(state: ClusterState, seeded: list[str]) -> None:
    pods = state.pods(seeded)
    assert ours([p.name for p in pods.items]) == [
        "hidden-crash", "hidden-oom", "second-crash", "team-crash", "team-web",
    ]  # fmt: skip
    assert [c.note for c in pods.clusters] == [None, None]
