"""The query layer over the on-demand source, against real API servers (issue: partial failure
is a normal state: a dead, slow, forbidden or badly-authenticated cluster never hides the rest)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration import seed
from integration.backends import VIEWER_NAMESPACE, Fleet
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import PodRecord
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.sources import LiveSource

TIMEOUT = 2.0


def state_for(*dirs: Path, timeout: float = TIMEOUT, ttl: float = 0) -> ClusterState:
    files = [f for d in dirs for f in sorted(d.iterdir()) if f.is_file()]
    registry = ContextRegistry(directory=None, files=files)
    return ClusterState(registry, LiveSource(registry, timeout=timeout, ttl=ttl))


@pytest.fixture
def seeded(fleet: Fleet, namespace: str) -> str:
    for index, ctx in enumerate(fleet.contexts):
        api = fleet.admin(ctx)
        seed.create_deployment(api, namespace, "web", replicas=2, ready=2 - (index == 2))
        seed.create_pod(api, namespace, f"web-{index}", labels={"app": "web"}, owner=("ReplicaSet", "web-1"))
        seed.set_pod_status(api, namespace, f"web-{index}", "running")
        seed.create_pod(api, namespace, f"job-{index}", labels={"app": "job"})
    seed.set_pod_status(fleet.admin(fleet.contexts[1]), namespace, "job-1", "crashloop")
    return namespace


def test_fan_out_returns_every_cluster(fleet: Fleet, seeded: str) -> None:
    state = state_for(fleet.kubeconfig_dir)
    result = state.pods(fleet.contexts, namespace=seeded)
    assert [c.status for c in result.clusters] == ["ok", "ok", "ok"]
    assert {c.source for c in result.clusters} == {"live"}
    assert sorted((p.context, p.name) for p in result.items) == sorted(
        (ctx, f"{kind}-{i}") for i, ctx in enumerate(fleet.contexts) for kind in ("job", "web")
    )
    crashing = next(p for p in result.items if p.name == "job-1")
    assert isinstance(crashing, PodRecord)
    assert (crashing.containers[0].reason, crashing.restarts) == ("CrashLoopBackOff", 5)
    deployments = state.deployments("cp-*" if fleet.contexts[0].startswith("cp-") else fleet.contexts, seeded)
    assert sorted(d.ready_replicas for d in deployments.items) == [1, 2, 2]


def test_label_selector_and_glob(fleet: Fleet, seeded: str) -> None:
    state = state_for(fleet.kubeconfig_dir)
    result = state.pods(fleet.contexts[0][:-1] + "*", namespace=seeded, label_selector="app=web")
    names = sorted(p.name for p in result.items)
    assert names == [f"web-{i}" for i in range(3)], "viewer contexts match the glob too but see only team-a"
    # Each viewer reaches its admin's cluster: the cluster is listed once, from the admin (the
    # broadest view; the viewer may not read that namespace), standing for the viewer.
    assert {c.context: c.also for c in result.clusters} == {
        ctx: (fleet.viewer(ctx),) for ctx in fleet.contexts
    }


def test_a_stopped_cluster_is_reported_and_the_others_answer(running_fleet: Fleet, seeded: str) -> None:
    state = state_for(running_fleet.kubeconfig_dir)
    down = running_fleet.contexts[1]
    running_fleet.stop(down)
    started = time.monotonic()
    result = state.pods(running_fleet.contexts, namespace=seeded)
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + 3, f"a dead cluster cost {elapsed:.1f}s, more than its timeout"
    report = {c.context: c for c in result.clusters}
    assert report[down].status == "unreachable"
    assert report[down].error == "connection refused"
    assert {c.context for c in result.answered} == set(running_fleet.contexts) - {down}
    assert len(result.items) == 4


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung API server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_hung_cluster_costs_at_most_its_timeout(
    fleet: Fleet, seeded: str, blackhole: int, tmp_path: Path
) -> None:
    hung = tmp_path / "hung"
    hung.mkdir()
    (hung / "hung.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": "hung", "cluster": {"server": f"https://127.0.0.1:{blackhole}", "insecure-skip-tls-verify": True}}],
                "users": [{"name": "u", "user": {"token": "x"}}],
                "contexts": [{"name": "hung", "context": {"cluster": "hung", "user": "u"}}],
            }
        )
    )  # fmt: skip
    state = state_for(fleet.kubeconfig_dir, hung)
    started = time.monotonic()
    result = state.pods([*fleet.contexts, "hung"], namespace=seeded)
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + 2
    report = {c.context: c for c in result.clusters}
    assert report["hung"].status == "timeout"
    assert all(report[ctx].status == "ok" for ctx in fleet.contexts)


def test_viewer_is_forbidden_for_nodes_while_its_pods_answer(fleet: Fleet) -> None:
    state = state_for(fleet.kubeconfig_dir)
    viewer = fleet.viewer(fleet.contexts[0])
    nodes = state.nodes(viewer)
    assert nodes.clusters[0].status == "forbidden"
    assert 'cannot list resource "nodes"' in (nodes.clusters[0].error or "")
    seed.create_pod(fleet.admin(fleet.contexts[0]), VIEWER_NAMESPACE, "visible")
    try:
        pods = state.pods(viewer, namespace=VIEWER_NAMESPACE)
        assert pods.clusters[0].status == "ok"
        assert [p.name for p in pods.items] == ["visible"]
    finally:
        from kubernetes.client import CoreV1Api

        CoreV1Api(fleet.admin(fleet.contexts[0])).delete_namespaced_pod("visible", VIEWER_NAMESPACE)


def exec_plugin_state(source: dict[str, Any], plugin: Path, tmp_path: Path) -> ClusterState:
    """A state over one context `eks-prod` on the fleet's first cluster, authenticated by `plugin`."""
    source["users"] = [
        {"name": "eks", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin), "interactiveMode": "Never"}}}
    ]  # fmt: skip
    source["contexts"] = [
        {"name": "eks-prod", "context": {"cluster": source["clusters"][0]["name"], "user": "eks"}}
    ]
    exec_dir = tmp_path / "exec"
    exec_dir.mkdir()
    (exec_dir / "eks.yaml").write_text(yaml.safe_dump(source))
    return state_for(exec_dir)


def test_failing_exec_plugin_is_an_auth_error(fleet: Fleet, tmp_path: Path) -> None:
    source = yaml.safe_load((fleet.kubeconfig_dir / f"{fleet.contexts[0]}.yaml").read_text())
    plugin = tmp_path / "get-token"
    plugin.write_text("#!/bin/sh\necho 'error: SSO session expired; run aws sso login' >&2\nexit 1\n")
    plugin.chmod(0o755)
    state = exec_plugin_state(source, plugin, tmp_path)
    result = state.pods("eks-prod")
    report = result.clusters[0]
    assert report.status == "auth-error"
    assert (report.error or "").startswith("exec plugin failed (get-token):")
    assert "SSO session expired" in (report.error or "")


def test_expired_token_is_an_auth_error_not_unreachable(fleet: Fleet, tmp_path: Path) -> None:
    source = yaml.safe_load((fleet.kubeconfig_dir / f"{fleet.contexts[0]}.yaml").read_text())
    for user in source["users"]:
        user["user"] = {"token": "expired-or-revoked"}
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(source))
    result = state_for(tmp_path).pods(fleet.contexts[0])
    assert result.clusters[0].status == "auth-error"
    assert "401" in (result.clusters[0].error or "")


def test_kinds_through_the_generic_list(fleet: Fleet, seeded: str) -> None:
    state = state_for(fleet.kubeconfig_dir)
    seed.create_node(fleet.admin(fleet.contexts[0]), "node-a", ready=False)
    try:
        nodes = state.list(Kind.NODE, fleet.contexts[0])
        seeded_nodes = [(n.name, getattr(n, "ready", None)) for n in nodes.items if n.name == "node-a"]
        assert seeded_nodes == [("node-a", "False")]
        namespaces = state.namespaces(fleet.contexts[0])
        assert seeded in {n.name for n in namespaces.items}
    finally:
        from kubernetes.client import CoreV1Api

        CoreV1Api(fleet.admin(fleet.contexts[0])).delete_node("node-a")


def test_lists_are_paginated_and_complete(fleet: Fleet, namespace: str) -> None:
    api = fleet.admin(fleet.contexts[0])
    for i in range(7):
        seed.create_pod(api, namespace, f"p-{i}")
    files = sorted(fleet.kubeconfig_dir.iterdir())
    registry = ContextRegistry(directory=None, files=files)
    state = ClusterState(registry, LiveSource(registry, page_size=2, ttl=0))
    result = state.pods(fleet.contexts[0], namespace)
    assert sorted(p.name for p in result.items) == [f"p-{i}" for i in range(7)]


def test_exec_plugin_credentials_work_and_are_refreshed_when_they_expire(
    fleet: Fleet, tmp_path: Path
) -> None:
    """An `aws eks get-token`-style plugin: run on first use, run again once its token expired."""
    source = yaml.safe_load((fleet.kubeconfig_dir / f"{fleet.contexts[0]}.yaml").read_text())
    token = next((u["user"].get("token") for u in source["users"] if u["name"].endswith("-admin")), None)
    if token is None:
        pytest.skip("this backend's admin authenticates with a client certificate, not a token")
    calls = tmp_path / "calls"
    plugin = tmp_path / "get-token"
    plugin.write_text(
        "#!/bin/sh\n"
        f"echo run >> {calls}\n"
        # The client renews a token 5 minutes before it expires; this one enters that window in 2s.
        'expiry=$(date -u -d "+302 seconds" +%Y-%m-%dT%H:%M:%SZ)\n'
        "cat <<JSON\n"
        '{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",'
        f' "status": {{"token": "{token}", "expirationTimestamp": "$expiry"}}}}\n'
        "JSON\n"
    )
    plugin.chmod(0o755)
    state = exec_plugin_state(source, plugin, tmp_path)
    first = state.namespaces("eks-prod")
    assert first.clusters[0].status == "ok", first.clusters[0].error
    assert calls.read_text().count("run") == 1
    time.sleep(3)
    second = state.namespaces("eks-prod")
    assert second.clusters[0].status == "ok", second.clusters[0].error
    assert calls.read_text().count("run") == 2, "an expired exec credential is fetched again"


def test_a_refreshed_kubeconfig_is_used_without_a_restart(fleet: Fleet, tmp_path: Path) -> None:
    good = (fleet.kubeconfig_dir / f"{fleet.contexts[0]}.yaml").read_text()
    config = yaml.safe_load(good)
    for user in config["users"]:
        user["user"] = {"token": "expired"}
    directory = tmp_path / "kube"
    directory.mkdir()
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(config))
    registry = ContextRegistry(directory=directory, reload_interval=0)
    state = ClusterState(registry, LiveSource(registry, ttl=0))
    assert state.namespaces(fleet.contexts[0]).clusters[0].status == "auth-error"
    path.write_text(good)  # e.g. `aws eks update-kubeconfig` or a new download from Rancher
    assert state.namespaces(fleet.contexts[0]).clusters[0].status == "ok"


def test_namespace_restricted_user_gets_its_namespace_with_a_note(fleet: Fleet) -> None:
    """Like `kubectl get pods` for a user whose rights end at the context's namespace."""
    admin = fleet.admin(fleet.contexts[0])
    seed.create_pod(admin, VIEWER_NAMESPACE, "mine")
    try:
        state = state_for(fleet.kubeconfig_dir)
        result = state.pods(fleet.viewer(fleet.contexts[0]))
        viewer = result.clusters[0]
        assert viewer.status == "ok"
        assert viewer.note == "namespace team-a only: may not list pods in all namespaces"
        assert [p.name for p in result.items] == ["mine"]
        # Asked together with the admin context of the same cluster, the cluster is counted once,
        # from the admin's view of every namespace.
        both = state.pods([fleet.contexts[0], fleet.viewer(fleet.contexts[0])])
        assert [(c.context, c.also, c.note) for c in both.clusters] == [
            (fleet.contexts[0], (viewer.context,), None)
        ]
        assert [p.name for p in both.items if p.namespace == VIEWER_NAMESPACE].count("mine") == 1
        nodes = state.nodes(fleet.viewer(fleet.contexts[0]))
        assert nodes.clusters[0].status == "forbidden", (
            "cluster-scoped kinds have no namespace to fall back to"
        )
    finally:
        from kubernetes.client import CoreV1Api

        CoreV1Api(admin).delete_namespaced_pod("mine", VIEWER_NAMESPACE)
