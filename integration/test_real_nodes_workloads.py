"""Rollouts and drains on real ReplicaSets, a real scheduler and a real kubelet (issue 16, item 4):
rollout restart/status/history/undo as kubectl words them, and a drain through the Eviction API
that a PodDisruptionBudget holds back, whose evicted pods the ReplicaSet recreates, and which
says when each evicted pod was gone. Cluster cp-2; its only node is uncordoned at the end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes.client import PolicyV1Api

from integration import controlplane
from integration.backends import RealFleet
from integration.real_nodes_mcp import IMAGE, Server, available, deployment, servers_in_namespace, wait_for

pytestmark = pytest.mark.realnodes


@dataclass
class Env:
    fleet: RealFleet
    ctx: str
    ns: str
    live: Server

    def kubectl(self, *args: str) -> str:
        done = self.fleet.kubectl(self.ctx, *args, "-n", self.ns)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def env(real_fleet: RealFleet) -> Iterator[Env]:
    ctx = real_fleet.contexts[1]
    with servers_in_namespace(real_fleet, ctx, "rk", watch=False) as (ns, live, _, _stack):
        yield Env(real_fleet, ctx, ns, live)


def _rollout_status(env: Env, name: str) -> tuple[bool, str]:
    """k8s_rollout_status's (done, message), checked against `kubectl rollout status
    --watch=false` read just before and just after it (again while the two differ)."""
    for _ in range(10):
        before = env.kubectl("rollout", "status", f"deployment/{name}", "--watch=false").strip()
        answer = env.live.call(
            "k8s_rollout_status", resource_type="deployment", name=name, context=env.ctx, namespace=env.ns
        )
        after = env.kubectl("rollout", "status", f"deployment/{name}", "--watch=false").strip()
        assert not answer.is_error, answer.text
        (item,) = answer.data["items"]
        if before == after:
            assert item["message"] == before, (item, before)
            return bool(item["done"]), str(item["message"])
    raise AssertionError(f"kubectl's rollout status of {name} never stable")


def _history(env: Env, name: str) -> list[dict[str, Any]]:
    """k8s_rollout_history's revisions, checked against the revisions kubectl lists."""
    answer = env.live.call(
        "k8s_rollout_history", resource_type="deployment", name=name, context=env.ctx, namespace=env.ns
    )
    assert not answer.is_error, answer.text
    items = sorted(answer.data["items"], key=lambda i: i["revision"])
    listed = env.kubectl("rollout", "history", f"deployment/{name}").splitlines()
    revisions = [int(line.split()[0]) for line in listed if line[:1].isdigit()]
    assert [i["revision"] for i in items] == revisions, (items, listed)
    return items


def _roll(env: Env, name: str, replicas: int) -> list[str]:
    """Every rollout status message until done (each one kubectl's at that moment)."""
    messages: list[str] = []
    deadline = time.monotonic() + 90
    while True:
        done, message = _rollout_status(env, name)
        if not messages or messages[-1] != message:
            messages.append(message)
        if done and available(env.fleet, env.ctx, env.ns, name, replicas):
            return messages
        assert time.monotonic() < deadline, messages
        time.sleep(0.3)


def test_rollout_restart_status_history_and_undo(env: Env) -> None:
    """Guards: rollouts on real ReplicaSets: restart makes a new revision, status says what
    kubectl says while rolling and when done, history lists the ReplicaSets' revisions with
    their images, undo to revision 1 brings its image back."""
    apps = env.fleet.apps(env.ctx)
    apps.create_namespaced_deployment(env.ns, deployment("app", 2, min_ready=1))
    try:
        wait_for("app available", lambda: available(env.fleet, env.ctx, env.ns, "app", 2), timeout=90)
        assert _rollout_status(env, "app") == (True, 'deployment "app" successfully rolled out')

        restarted = env.live.call(
            "k8s_rollout_restart", resource_type="deployment", name="app", context=env.ctx, namespace=env.ns
        )
        assert not restarted.is_error, restarted.text
        annotations = apps.read_namespaced_deployment("app", env.ns).spec.template.metadata.annotations
        assert "kubectl.kubernetes.io/restartedAt" in annotations
        messages = _roll(env, "app", 2)
        assert any(m.startswith('Waiting for deployment "app" rollout to finish: ') for m in messages), (
            messages
        )
        assert messages[-1] == 'deployment "app" successfully rolled out'

        pause = controlplane.PAUSE_IMAGE  # the same binary: `command` runs it as the workload
        apps.patch_namespaced_deployment(
            "app",
            env.ns,
            {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": pause}]}}}},
        )
        _roll(env, "app", 2)
        history = _history(env, "app")
        assert [(i["revision"], i["images"], i["current"]) for i in history] == [
            (1, [IMAGE], False),
            (2, [IMAGE], False),
            (3, [pause], True),
        ]

        undone = env.live.call(
            "k8s_rollout_undo", resource_type="deployment", name="app", context=env.ctx, namespace=env.ns,
            to_revision=1,
        )  # fmt: skip
        assert not undone.is_error, undone.text
        assert apps.read_namespaced_deployment("app", env.ns).spec.template.spec.containers[0].image == IMAGE
        _roll(env, "app", 2)
        history = _history(env, "app")
        assert [(i["revision"], i["images"], i["current"]) for i in history] == [
            (2, [IMAGE], False),
            (3, [pause], False),
            (4, [IMAGE], True),
        ]
        pods = env.fleet.core(env.ctx).list_namespaced_pod(env.ns, label_selector="app=app").items
        assert {c.image for p in pods if not p.metadata.deletion_timestamp for c in p.spec.containers} == {
            IMAGE
        }
    finally:
        apps.delete_namespaced_deployment("app", env.ns)


def _pdb_allows(env: Env, name: str, allowed: int) -> bool:
    pdb = PolicyV1Api(env.fleet.admin(env.ctx)).read_namespaced_pod_disruption_budget(name, env.ns)
    status = pdb.status
    return bool(
        status
        and (status.observed_generation or 0) >= pdb.metadata.generation
        and status.disruptions_allowed == allowed
    )


def _mine(answer_items: list[dict[str, Any]], ns: str) -> list[dict[str, Any]]:
    """The drain's outcomes for this test's Deployment's pods (the node runs others too, the
    rollout test's among them, whose eviction the budget does not govern)."""
    return [
        i for i in answer_items
        if i["kind"] == "pods" and i["namespace"] == ns and i["name"].startswith("drained-")
    ]  # fmt: skip


def test_drain_respects_the_disruption_budget_and_waits_until_evicted_pods_are_gone(env: Env) -> None:
    """Guards: drain against real controllers: the first eviction is allowed, the budget
    (minAvailable 2 of 3) blocks the others until the timeout (the only node is cordoned, so the
    ReplicaSet's replacement cannot become Ready); every evicted pod is said to be gone; without
    the budget a second drain evicts the rest; uncordon lets the Deployment recover."""
    core, apps, policy = (
        env.fleet.core(env.ctx),
        env.fleet.apps(env.ctx),
        PolicyV1Api(env.fleet.admin(env.ctx)),
    )
    (node,) = env.fleet.node_names(env.ctx)
    apps.create_namespaced_deployment(env.ns, deployment("drained", 3))
    budget = {"metadata": {"name": "drained"},
              "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "drained"}}}}  # fmt: skip
    policy.create_namespaced_pod_disruption_budget(env.ns, budget)
    wait_for("drained available", lambda: available(env.fleet, env.ctx, env.ns, "drained", 3), timeout=90)
    wait_for("the budget allows one disruption", lambda: _pdb_allows(env, "drained", 1))
    before = {p.metadata.name for p in core.list_namespaced_pod(env.ns, label_selector="app=drained").items}
    try:
        first = env.live.call("k8s_drain_node", node_name=node, context=env.ctx, timeout=5)
        assert not first.is_error, first.text
        items = _mine(first.data["items"], env.ns)
        evicted = [i for i in items if i["verb"] == "evicted"]
        blocked = [i for i in items if i["verb"] == "not evicted"]
        assert (len(evicted), len(blocked)) == (1, 2), first.text
        assert evicted[0]["detail"].startswith("gone after"), first.text
        assert all("disruption budget" in i["error"] for i in blocked), first.text
        assert {i["name"] for i in items} == before

        nodes = env.live.call("k8s_get_resources", kind="nodes", context=env.ctx).data["items"]
        kubectl_node = env.fleet.kubectl(env.ctx, "get", "node", node, "--no-headers").stdout.split()
        assert [n["status"] for n in nodes] == [kubectl_node[1]] == ["Ready,SchedulingDisabled"]

        def replacement() -> set[str]:
            pods = core.list_namespaced_pod(env.ns, label_selector="app=drained").items
            return {p.metadata.name for p in pods if p.metadata.name not in before and not p.spec.node_name}

        (new,) = wait_for("the ReplicaSet's replacement", replacement)
        unschedulable = wait_for(
            "the replacement Unschedulable", lambda: env.live.failing(env.ctx, env.ns).get(new), timeout=30
        )
        assert unschedulable["reason"] == "Unschedulable" and "unschedulable" in unschedulable["message"]

        policy.delete_namespaced_pod_disruption_budget("drained", env.ns)
        second = env.live.call("k8s_drain_node", node_name=node, context=env.ctx, timeout=30)
        assert not second.is_error, second.text
        items = _mine(second.data["items"], env.ns)
        assert sorted(i["name"] for i in items) == sorted(i["name"] for i in blocked), second.text
        assert all(i["verb"] == "evicted" and i["detail"].startswith("gone after") for i in items), (
            second.text
        )
        left = core.list_namespaced_pod(env.ns, label_selector="app=drained").items
        assert all(p.spec.node_name is None for p in left) and len(left) == 3
    finally:
        uncordoned = env.live.call("k8s_uncordon_node", node_name=node, context=env.ctx)
        if uncordoned.is_error:
            core.patch_node(node, {"spec": {"unschedulable": None}})
    assert not uncordoned.is_error, uncordoned.text
    wait_for(
        "drained available again", lambda: available(env.fleet, env.ctx, env.ns, "drained", 3), timeout=90
    )
