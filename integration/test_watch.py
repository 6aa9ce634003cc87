"""The watch cache against real API servers: it converges to what the servers hold through bursts
of changes, a server restart (with deletions made while it was down and etcd compacted, so the
old resourceVersion is gone: 410, relist) and a restricted user, without a hot retry loop."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import yaml
from kubernetes.client import CoreV1Api

from integration import hostile, seed
from integration.backends import VIEWER_NAMESPACE, ControlPlaneFleet, Fleet
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.sources import LiveSource
from k8s_multicluster_mcp.sources.base import CacheEntry
from k8s_multicluster_mcp.sources.watch import WatchSource
from k8s_multicluster_mcp.sources.watch.reflector import Reflector
from k8s_multicluster_mcp.sources.watch.store import KindStore

TIMEOUT = 3.0


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def watched(fleet: Fleet) -> Iterator[tuple[WatchSource, ClusterState]]:
    registry = ContextRegistry(directory=fleet.kubeconfig_dir)
    live = LiveSource(registry, timeout=TIMEOUT, ttl=0)
    source = WatchSource(registry, live, request_timeout=TIMEOUT, stale_after=5)
    source.start()
    try:
        yield source, ClusterState(registry, source)
    finally:
        source.close()


def entries(source: WatchSource) -> dict[tuple[str, Kind], CacheEntry]:
    return {(e.context, e.kind): e for e in source.cache_status().entries}


def synced(source: WatchSource, contexts: list[str]) -> Callable[[], bool]:
    def check() -> bool:
        found = entries(source)
        return all(
            (c, k) in found and found[(c, k)].synced for c in contexts for k in (Kind.POD, Kind.DEPLOYMENT)
        )

    return check


def server_pods(fleet: Fleet, context: str, namespace: str) -> set[tuple[str, str, str]]:
    body = orjson.loads(
        CoreV1Api(fleet.admin(context)).list_namespaced_pod(namespace, _preload_content=False).data
    )
    return {
        (p["metadata"]["name"], p["metadata"]["resourceVersion"], p["status"].get("phase", ""))
        for p in body["items"]
    }


def cached_pods(state: ClusterState, context: str, namespace: str) -> set[tuple[str, str, str]] | None:
    """The pods as the cache holds them; None while the answer is not from the cache."""
    result = state.pods(context, namespace)
    if result.clusters[0].source != "cache":
        return None
    return {(p.name, p.resource_version, p.phase) for p in result.items}


def cached_names(state: ClusterState, context: str, namespace: str) -> set[str] | None:
    pods = cached_pods(state, context, namespace)
    return None if pods is None else {p[0] for p in pods}


def test_the_cache_equals_a_fresh_list_after_a_burst_of_changes(
    fleet: Fleet, namespace: str, watched: tuple[WatchSource, ClusterState]
) -> None:
    source, state = watched
    wait_for(synced(source, fleet.contexts), what="every context synced")

    def churn(context: str) -> None:
        api = fleet.admin(context)
        for i in range(25):
            seed.create_pod(api, namespace, f"burst-{i}", labels={"round": "1"})
        for i in range(0, 25, 2):
            seed.set_pod_status(api, namespace, f"burst-{i}", "running")
        for i in range(0, 25, 3):
            CoreV1Api(api).delete_namespaced_pod(f"burst-{i}", namespace, grace_period_seconds=0)
        for i in (i for i in range(1, 25, 4) if i % 3):  # not the deleted ones
            CoreV1Api(api).patch_namespaced_pod(
                f"burst-{i}", namespace, {"metadata": {"labels": {"round": "2"}}}
            )

    threads = [threading.Thread(target=churn, args=(c,)) for c in fleet.contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for context in fleet.contexts:
        expected = server_pods(fleet, context, namespace)
        assert len(expected) == 25 - len(range(0, 25, 3))
        wait_for(
            lambda c=context, e=expected: cached_pods(state, c, namespace) == e, what=f"{context} converged"
        )
    relabelled = state.pods(fleet.contexts[0], namespace, "round=2")
    assert sorted(p.name for p in relabelled.items) == sorted(f"burst-{i}" for i in range(1, 25, 4) if i % 3)


def test_a_restarted_server_is_reported_then_converges_with_deletions_made_while_down(
    running_fleet: Fleet, namespace: str, watched: tuple[WatchSource, ClusterState]
) -> None:
    if not isinstance(running_fleet, ControlPlaneFleet):
        pytest.skip("needs the local control plane's etcd")
    source, state = watched
    down = running_fleet.contexts[1]
    api = running_fleet.admin(down)
    wait_for(synced(source, running_fleet.contexts), what="every context synced")
    for name in ("keep", "gone"):
        seed.create_pod(api, namespace, name)
    wait_for(lambda: cached_names(state, down, namespace) == {"keep", "gone"}, what="pods cached")

    running_fleet.stop(down)
    wait_for(lambda: not entries(source)[(down, Kind.POD)].healthy, what="the watch noticed")
    assert entries(source)[(down, Kind.POD)].last_error
    running_fleet.delete_behind_the_server(down, "pods", namespace, "gone")
    running_fleet.compact()  # every resourceVersion the cache knows is now history
    within = state.pods(down, namespace)
    assert within.clusters[0].source == "cache", "unhealthy for less than --stale-after: still the cache"
    assert "watch down since" in (within.clusters[0].note or "")

    running_fleet.start(down)
    wait_for(lambda: entries(source)[(down, Kind.POD)].healthy, timeout=40, what="the watch is back")
    wait_for(lambda: cached_names(state, down, namespace) == {"keep"}, what="deletion seen")
    assert cached_pods(state, down, namespace) == server_pods(running_fleet, down, namespace)
    assert entries(source)[(down, Kind.POD)].relists >= 1, "the old resourceVersion expired: a relist"
    assert entries(source)[(down, Kind.POD)].reconnects >= 1


def test_a_stale_context_is_answered_live_or_marked_stale(
    running_fleet: Fleet, namespace: str, watched: tuple[WatchSource, ClusterState]
) -> None:
    source, state = watched
    down = running_fleet.contexts[2]
    seed.create_pod(running_fleet.admin(down), namespace, "old")
    wait_for(lambda: cached_names(state, down, namespace) == {"old"}, what="pod cached")
    running_fleet.stop(down)
    wait_for(lambda: not entries(source)[(down, Kind.POD)].healthy, what="the watch noticed")
    time.sleep(5.5)  # past --stale-after (5 s in this fixture)
    result = state.pods(down, namespace)
    report = result.clusters[0]
    assert (report.status, report.source) == ("stale", "cache")
    assert "a live list failed too (unreachable" in (report.error or "")
    assert [p.name for p in result.items] == ["old"], "stale data is still shown, and marked"


def test_the_viewer_watches_its_namespace_and_nodes_are_forbidden_without_a_retry_loop(
    fleet: Fleet, watched: tuple[WatchSource, ClusterState]
) -> None:
    source, state = watched
    viewer = fleet.viewer(fleet.contexts[0])
    seed.create_pod(fleet.admin(fleet.contexts[0]), VIEWER_NAMESPACE, "mine")
    try:
        wait_for(
            lambda: (
                entries(source).get((viewer, Kind.POD)) is not None
                and entries(source)[(viewer, Kind.POD)].synced
            )
        )
        pods = entries(source)[(viewer, Kind.POD)]
        assert pods.scope == VIEWER_NAMESPACE
        result = state.pods(viewer)
        assert (result.clusters[0].status, result.clusters[0].source) == ("ok", "cache")
        assert result.clusters[0].note == "namespace team-a only: may not list pods in all namespaces"
        assert [p.name for p in result.items] == ["mine"]
        wait_for(lambda: entries(source)[(viewer, Kind.NODE)].forbidden is not None, what="nodes forbidden")
        before = entries(source)[(viewer, Kind.NODE)].requests
        time.sleep(5)
        # Retried after 1, 2, 4 ... s (a restarting API server answers 403 for a moment), so at
        # most three requests in 5 s, and fewer and fewer after: not a loop.
        assert entries(source)[(viewer, Kind.NODE)].requests - before <= 3, (
            "a forbidden kind is not retried in a loop"
        )
        nodes = state.nodes(viewer)
        assert nodes.clusters[0].status == "forbidden"
    finally:
        CoreV1Api(fleet.admin(fleet.contexts[0])).delete_namespaced_pod("mine", VIEWER_NAMESPACE)


def test_contexts_with_the_same_cluster_and_credentials_share_one_set_of_watches(
    fleet: Fleet, tmp_path: Path
) -> None:
    """An alias of `cp-1` (another context name, the same cluster and user) is served by cp-1's
    watches, answers under its own name, and keeps them when cp-1 leaves the kubeconfig."""
    admin = fleet.contexts[0]
    directory = tmp_path / "kube"
    directory.mkdir()
    config = yaml.safe_load((fleet.kubeconfig_dir / f"{admin}.yaml").read_text())
    alias = {"name": f"{admin}-alias", "context": {"cluster": admin, "user": f"{admin}-admin"}}
    config["contexts"] = [c for c in config["contexts"] if c["name"] == admin] + [alias]
    path = directory / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    registry = ContextRegistry(directory=directory, reload_interval=0)
    source = WatchSource(registry, LiveSource(registry, ttl=0), request_timeout=TIMEOUT)
    state = ClusterState(registry, source)
    source.start()
    try:
        wait_for(synced(source, [admin]), what="the shared watches synced")
        assert {(e.context, e.shared) for e in source.cache_status().entries} == {(admin, (alias["name"],))}
        only = state.pods(alias["name"], namespace="kube-system")
        assert (only.clusters[0].context, only.clusters[0].source) == (alias["name"], "cache")
        assert {p.context for p in only.items} <= {alias["name"]}
        both = state.pods(namespace="kube-system")
        assert [(c.context, c.also) for c in both.clusters] == [(admin, (alias["name"],))]
        config["contexts"] = [alias]
        path.write_text(yaml.safe_dump(config))
        wait_for(lambda: {e.context for e in source.cache_status().entries} == {alias["name"]},
                 what="the watches move to the alias")  # fmt: skip
        wait_for(synced(source, [alias["name"]]), what="and sync again")
    finally:
        source.close()


def test_close_stops_every_watch_thread_at_once(fleet: Fleet, tmp_path: Path) -> None:
    registry = ContextRegistry(directory=fleet.kubeconfig_dir)
    source = WatchSource(registry, LiveSource(registry, ttl=0), request_timeout=TIMEOUT)
    source.start()
    wait_for(synced(source, fleet.contexts), what="synced")
    started = time.monotonic()
    source.close()
    assert time.monotonic() - started < 2
    left = [t for t in threading.enumerate() if t.name.startswith("k8s-watch")]
    stacks = {
        t.name: "".join(traceback.format_stack(sys._current_frames()[t.ident])) for t in left if t.ident
    }
    assert not left, stacks


def test_kubeconfig_changes_add_and_remove_watches(fleet: Fleet, tmp_path: Path) -> None:
    directory = tmp_path / "kube"
    directory.mkdir()
    first, second = (fleet.kubeconfig_dir / f"{c}.yaml" for c in fleet.contexts[:2])
    (directory / first.name).write_text(first.read_text())
    registry = ContextRegistry(directory=directory, reload_interval=0)
    source = WatchSource(registry, LiveSource(registry, ttl=0), request_timeout=TIMEOUT)
    source.start()
    try:

        def contexts() -> set[str]:
            return {e.context for e in source.cache_status().entries}

        wait_for(
            lambda: contexts() == {fleet.contexts[0], fleet.viewer(fleet.contexts[0])}, what="first file"
        )
        (directory / second.name).write_text(second.read_text())
        wait_for(lambda: fleet.contexts[1] in contexts(), what="a new kubeconfig file is watched")
        (directory / first.name).unlink()
        wait_for(lambda: contexts() == {fleet.contexts[1], fleet.viewer(fleet.contexts[1])}, what="removed")
    finally:
        source.close()


class OldServer(hostile.FakeServer):
    """An API server without streaming lists: `sendInitialEvents` gets 422, LIST and WATCH work."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        super().__init__()

    def serve(self, conn) -> None:  # type: ignore[no-untyped-def]
        while (line := self.read_request(conn)) is not None:
            path = line.split(" ")[1]
            self.paths.append(path)
            if "sendInitialEvents=true" in path:
                body = b'{"kind":"Status","status":"Failure","reason":"Invalid","code":422,"message":"sendInitialEvents is forbidden"}'
                conn.sendall(
                    b"HTTP/1.1 422 Unprocessable Entity\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body)
                )
            elif "watch=true" in path:
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                event = b'{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"8"}}}\n'
                conn.sendall(b"%x\r\n%s\r\n" % (len(event), event))
                self._stop.wait()
                return
            else:
                body = orjson.dumps(
                    {
                        "kind": "PodList",
                        "metadata": {"resourceVersion": "7"},
                        "items": [hostile.pod(1), hostile.pod(2)],
                    }
                )
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body)
                )


def test_without_streaming_lists_the_reflector_falls_back_to_list(tmp_path: Path) -> None:
    with OldServer() as server:
        hostile.kubeconfig(tmp_path, "old", server.url)
        registry = ContextRegistry(directory=tmp_path)
        ctx = registry.resolve("old")[0]
        store = KindStore("old", Kind.POD)
        reflector = Reflector(ctx, Kind.POD, registry, store, request_timeout=TIMEOUT)
        reflector.start()
        try:
            wait_for(
                lambda: reflector.synced and reflector.resource_version == "8", what="listed, then watching"
            )
            assert sorted(r.name for r in store.select()) == ["endless-1", "endless-2"]
            assert reflector.healthy and reflector.relists == 0
        finally:
            reflector.stop()
            assert reflector.join(2)
    kinds = [
        "stream" if "sendInitialEvents" in p else "watch" if "watch=true" in p else "list"
        for p in server.paths
    ]
    assert kinds[:3] == ["stream", "list", "watch"]
    assert "resourceVersion=7" in server.paths[2]
