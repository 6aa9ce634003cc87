"""The fleet questions on 3 real clusters with pods in every state of the triage table, spread over
clusters and namespaces: exactly right, and the same in on-demand and watch mode."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes.client import CoreV1Api

from integration import seed
from integration.backends import Fleet
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.triage import Rules
from k8s_multicluster_mcp.query import fleet as queries
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.sources import LiveSource
from k8s_multicluster_mcp.sources.watch import WatchSource

TIMEOUT = 3.0
RULES = Rules(pending_grace=0)
"""No grace: a pod created a moment ago that is Pending or not ready counts at once."""

EXPECTED = {
    "running": None, "succeeded": None, "not_ready": "NotReady", "crashloop": "CrashLoopBackOff",
    "image_pull_backoff": "ImagePullBackOff", "err_image_pull": "ErrImagePull",
    "create_container_config_error": "CreateContainerConfigError", "oom_killed": "OOMKilled", "oom_last": "OOMKilled",
    "error": "Error", "evicted": "Evicted", "unschedulable": "Unschedulable", "pending": "Pending",
    "init_crashloop": "Init:CrashLoopBackOff", "restarting": "Restarting",
}  # fmt: skip


@pytest.fixture(scope="module")
def states(fleet: Fleet) -> Iterator[dict[str, ClusterState]]:
    """The same questions through the live source and through the watch cache."""
    registry = ContextRegistry(directory=fleet.kubeconfig_dir)
    live = ClusterState(registry, LiveSource(registry, timeout=TIMEOUT, ttl=0), RULES)
    watch_source = WatchSource(
        registry, LiveSource(registry, timeout=TIMEOUT, ttl=0), request_timeout=TIMEOUT
    )
    watch_source.start()
    try:
        yield {"live": live, "watch": ClusterState(registry, watch_source, RULES)}
    finally:
        watch_source.close()
        live.source.close()


@pytest.fixture(scope="module")
def seeded(fleet: Fleet) -> Iterator[dict[tuple[str, str, str], str | None]]:
    """Every preset once, round-robin over the clusters, in two namespaces; plus a pod stuck
    Terminating (a finalizer holds it), deployments and nodes."""
    namespaces = ("fleet-a", "fleet-b")
    expected: dict[tuple[str, str, str], str | None] = {}
    for ctx in fleet.contexts:
        for ns in namespaces:
            seed.create_namespace(fleet.admin(ctx), ns)
    for index, (preset, reason) in enumerate(EXPECTED.items()):
        ctx, ns = fleet.contexts[index % 3], namespaces[index % 2]
        name = preset.replace("_", "-")
        init = "busybox" if preset == "init_crashloop" else None
        seed.create_pod(
            fleet.admin(ctx),
            ns,
            name,
            owner=("ReplicaSet", "web-5d8f7"),
            labels={"pod-template-hash": "5d8f7"},
            init_image=init,
        )
        seed.set_pod_status(fleet.admin(ctx), ns, name, preset)
        expected[(ctx, ns, name)] = reason
    core = CoreV1Api(fleet.admin(fleet.contexts[2]))
    core.create_namespaced_pod("fleet-a", {"metadata": {"name": "stuck", "finalizers": ["example.com/hold"]},
                                           "spec": {"containers": [{"name": "app", "image": "nginx"}]}})  # fmt: skip
    core.delete_namespaced_pod("stuck", "fleet-a", grace_period_seconds=0)
    expected[(fleet.contexts[2], "fleet-a", "stuck")] = "Terminating"
    seed.create_deployment(
        fleet.admin(fleet.contexts[0]), "fleet-a", "shop", image="shop:1.0", replicas=3, ready=1
    )
    seed.create_deployment(fleet.admin(fleet.contexts[1]), "fleet-a", "shop", image="shop:1.1", replicas=3)
    seed.create_deployment(fleet.admin(fleet.contexts[2]), "fleet-a", "shop", image="shop:1.0", replicas=3)
    seed.create_node(fleet.admin(fleet.contexts[1]), "fleet-bad-node", ready=False)
    yield expected
    core.patch_namespaced_pod("stuck", "fleet-a", {"metadata": {"finalizers": None}})
    CoreV1Api(fleet.admin(fleet.contexts[1])).delete_node("fleet-bad-node")
    for ctx in fleet.contexts:
        for ns in namespaces:
            seed.delete_namespace(fleet.admin(ctx), ns)


def eventually(check: Callable[[], None], timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def failing(state: ClusterState, fleet: Fleet) -> dict[tuple[str, str, str], str]:
    answer = queries.failing_pods(state, fleet.contexts)
    assert [c.status for c in answer.clusters] == ["ok"] * 3
    return {
        (f.context, f.namespace, f.name): f.reason for f in answer.items if f.namespace.startswith("fleet-")
    }


@pytest.mark.parametrize("mode", ["live", "watch"])
def test_failing_pods_are_exactly_the_table(
    fleet: Fleet, states: dict[str, ClusterState], seeded: dict, mode: str
) -> None:
    expected = {key: reason for key, reason in seeded.items() if reason}

    def check() -> None:
        answer = queries.failing_pods(states[mode], fleet.contexts)
        assert {c.source for c in answer.clusters} == {"live" if mode == "live" else "cache"}
        assert failing(states[mode], fleet) == expected

    eventually(check)
    items = [
        f
        for f in queries.failing_pods(states[mode], fleet.contexts).items
        if f.namespace.startswith("fleet-")
    ]
    assert items[0].reason in ("OOMKilled", "CrashLoopBackOff", "Init:CrashLoopBackOff"), "most severe first"
    crash = next(f for f in items if f.reason == "CrashLoopBackOff")
    assert (crash.owner, crash.restarts) == ("Deployment/web", 5)
    only = queries.failing_pods(states[mode], fleet.contexts, reasons=["oomkilled"]).items
    assert {f.name for f in only if f.namespace.startswith("fleet-")} == {"oom-killed", "oom-last"}


def test_both_modes_give_the_same_answers(
    fleet: Fleet, states: dict[str, ClusterState], seeded: dict
) -> None:
    def same(question: Callable[[ClusterState], list]) -> None:  # type: ignore[type-arg]
        def check() -> None:
            assert question(states["live"]) == question(states["watch"])

        eventually(check)

    same(
        lambda s: sorted(
            (f.context, f.namespace, f.name, f.reason) for f in queries.failing_pods(s, fleet.contexts).items
        )
    )
    same(
        lambda s: [
            (d.context, d.name, d.problems)
            for d in queries.unhealthy_deployments(s, fleet.contexts, "fleet-a").items
        ]
    )
    same(lambda s: [(n.context, n.name, n.problems) for n in queries.node_problems(s, fleet.contexts).items])
    same(
        lambda s: sorted((p.context, p.name) for p in queries.find_pods(s, fleet.contexts, name="oom*").items)
    )
    same(
        lambda s: [
            (x.context, x.pods_by_phase, x.failing_by_reason)
            for x in queries.summary(s, fleet.contexts).items
        ]
    )


@pytest.mark.parametrize("mode", ["live", "watch"])
def test_deployments_nodes_search_summary_and_drift(
    fleet: Fleet, states: dict[str, ClusterState], seeded: dict, mode: str
) -> None:
    state = states[mode]
    eventually(lambda: _assert_deployments(state, fleet))
    nodes = queries.node_problems(state, fleet.contexts).items
    assert [(n.context, n.name, n.problems) for n in nodes] == [
        (fleet.contexts[1], "fleet-bad-node", ["NotReady"])
    ]
    found = queries.find_pods(state, fleet.contexts, namespace="fleet-a", image="nginx", phase="Failed").items
    assert sorted(p.name for p in found) == sorted(
        name for (_, ns, name), _r in seeded.items() if ns == "fleet-a" and name in ("error", "evicted")
    )
    copies, drift = queries.compare_deployment(state, "shop", "fleet-a", fleet.contexts)
    assert [c.images for c in copies.items] == [
        {"shop": "shop:1.0"},
        {"shop": "shop:1.1"},
        {"shop": "shop:1.0"},
    ]
    assert [(d.field, d.values) for d in drift] == [
        (
            "image[shop]",
            {fleet.contexts[0]: "shop:1.0", fleet.contexts[1]: "shop:1.1", fleet.contexts[2]: "shop:1.0"},
        )
    ]
    summary = {s.context: s for s in queries.summary(state, fleet.contexts).items}
    assert summary[fleet.contexts[1]].nodes_not_ready == 1
    assert sum(sum((s.failing_by_reason or {}).values()) for s in summary.values()) >= len(
        [r for r in seeded.values() if r]
    )


def _assert_deployments(state: ClusterState, fleet: Fleet) -> None:
    unhealthy = queries.unhealthy_deployments(state, fleet.contexts, "fleet-a").items
    assert [(d.context, d.name, d.problems) for d in unhealthy] == [
        (fleet.contexts[0], "shop", ["available 1/3"])
    ]


def test_a_stopped_cluster_is_named_and_the_others_answer(
    running_fleet: Fleet, states: dict[str, ClusterState], seeded: dict, tmp_path: Path
) -> None:
    down = running_fleet.contexts[0]
    running_fleet.stop(down)
    started = time.monotonic()
    answer = queries.failing_pods(states["live"], running_fleet.contexts)
    assert time.monotonic() - started < TIMEOUT + 2
    report = {c.context: c for c in answer.clusters}
    assert report[down].status == "unreachable"
    assert {f.context for f in answer.items if f.namespace.startswith("fleet-")} == set(
        running_fleet.contexts[1:]
    )
    cached = queries.failing_pods(states["watch"], running_fleet.contexts)
    assert {c.context: c.status for c in cached.clusters}[down] == "ok", (
        "down for less than --stale-after: the cache"
    )
    running_fleet.start(down)
