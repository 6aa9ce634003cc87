"""The local control plane is a real Kubernetes API server: status subresource, watches,
bookmarks, RBAC, and clusters that can be stopped and started with their data."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException
from kubernetes.watch import Watch

from integration import seed
from integration.backends import VIEWER_NAMESPACE, Fleet, client_for


def test_every_cluster_lists_namespaces(fleet: Fleet) -> None:
    assert len(fleet.contexts) == 3
    for ctx in fleet.contexts:
        names = {n.metadata.name for n in CoreV1Api(fleet.admin(ctx)).list_namespace().items}
        assert {"default", "kube-system", VIEWER_NAMESPACE} <= names


def test_clusters_are_separate(fleet: Fleet, namespace: str) -> None:
    first, second = fleet.contexts[:2]
    seed.create_pod(fleet.admin(first), namespace, "only-here")
    assert [p.metadata.name for p in CoreV1Api(fleet.admin(first)).list_namespaced_pod(namespace).items] == [
        "only-here"
    ]
    assert CoreV1Api(fleet.admin(second)).list_namespaced_pod(namespace).items == []


def test_status_subresource_update_arrives_on_a_watch(fleet: Fleet, namespace: str) -> None:
    api = fleet.admin(fleet.contexts[0])
    core = CoreV1Api(api)
    seed.create_pod(api, namespace, "web")
    version = core.list_namespaced_pod(namespace).metadata.resource_version
    seen: list[tuple[str, str, str | None]] = []

    def watch() -> None:
        for event in Watch().stream(
            core.list_namespaced_pod, namespace, resource_version=version, timeout_seconds=10
        ):
            pod = event["object"]
            reason = None
            statuses = pod.status.container_statuses or []
            if statuses and statuses[0].state.waiting:
                reason = statuses[0].state.waiting.reason
            seen.append((event["type"], pod.metadata.name, reason))
            if reason == "CrashLoopBackOff":
                return

    thread = threading.Thread(target=watch)
    thread.start()
    seed.set_pod_status(api, namespace, "web", "crashloop")
    thread.join(15)
    assert ("MODIFIED", "web", "CrashLoopBackOff") in seen
    pod = core.read_namespaced_pod("web", namespace)
    assert pod.status.container_statuses[0].restart_count == 5


def test_watch_with_bookmarks_receives_bookmarks(fleet: Fleet, namespace: str) -> None:
    """A streaming-list watch ends its initial events with a BOOKMARK (no minute-long wait)."""
    api = fleet.admin(fleet.contexts[0])
    seed.create_pod(api, namespace, "a")
    response = CoreV1Api(api).list_namespaced_pod(
        namespace,
        watch=True,
        allow_watch_bookmarks=True,
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        timeout_seconds=30,
        _preload_content=False,
    )
    events: list[dict[str, Any]] = []
    buffer = b""
    try:
        for chunk in response.stream():
            *lines, buffer = (buffer + chunk).split(b"\n")
            events += [orjson.loads(line) for line in lines if line.strip()]
            if events and events[-1]["type"] == "BOOKMARK":
                break
    finally:
        response.release_conn()
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    bookmark = events[-1]["object"]["metadata"]
    assert bookmark["resourceVersion"]
    assert bookmark["annotations"]["k8s.io/initial-events-end"] == "true"


def test_viewer_is_restricted(fleet: Fleet) -> None:
    ctx = fleet.contexts[0]
    viewer = client_for(fleet.kubeconfig_dir / f"{ctx}.yaml", fleet.viewer(ctx))
    core = CoreV1Api(viewer)
    with pytest.raises(ApiException) as info:
        core.list_node()
    assert info.value.status == 403
    with pytest.raises(ApiException):
        core.list_namespaced_secret(VIEWER_NAMESPACE)
    assert core.list_namespaced_pod(VIEWER_NAMESPACE).items is not None


def test_stop_refuses_connections_and_start_keeps_data(running_fleet: Fleet, namespace: str) -> None:
    ctx = running_fleet.contexts[1]
    seed.create_pod(running_fleet.admin(ctx), namespace, "survivor")
    running_fleet.stop(ctx)
    fresh = client_for(running_fleet.kubeconfig_dir / f"{ctx}.yaml", ctx)
    with pytest.raises(Exception, match=r"(?i)refused|Max retries"):
        CoreV1Api(fresh).list_namespace(_request_timeout=3)
    running_fleet.start(ctx)
    names = [p.metadata.name for p in CoreV1Api(fresh).list_namespaced_pod(namespace).items]
    assert names == ["survivor"]


def test_down_leaves_no_process(tmp_path: Path) -> None:
    from integration import controlplane

    state = controlplane.up(tmp_path / "fleet", clusters=1)
    pids = [state.etcd_pid, *(c.pid for c in state.clusters)]
    assert all(pid and Path(f"/proc/{pid}").exists() for pid in pids)
    controlplane.down(tmp_path / "fleet")
    status = controlplane.status(tmp_path / "fleet")
    assert not status["etcd"]["running"]
    assert not any(c["running"] for c in status["clusters"])
    for pid in pids:
        assert pid is not None
        with contextlib.suppress(FileNotFoundError):
            assert Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] == "Z"
