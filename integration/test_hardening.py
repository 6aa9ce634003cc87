"""One hung, drip-feeding or endless cluster never starves the healthy ones, and nothing it started
outlives the source (real API servers beside misbehaving fakes from `integration.hostile`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration import hostile, seed
from integration.backends import Fleet
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.sources import LiveSource

TIMEOUT = 2.0
ROUNDS = 5
WORKERS = 3
"""A small pool, so that before the fix a bad cluster took all of it within a few questions."""


@pytest.fixture
def pods(fleet: Fleet, namespace: str) -> str:
    for index, ctx in enumerate(fleet.contexts):
        seed.create_pod(fleet.admin(ctx), namespace, f"web-{index}")
    return namespace


@pytest.fixture
def bad(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A directory with one kubeconfig, context `bad`, for the misbehaviour named by the test."""
    what = request.param
    directory = tmp_path / "bad"
    if what == "hung-exec":
        plugin = hostile.hung_plugin(tmp_path / "bin", seconds=8123)
        with hostile.Blackhole() as unused:
            hostile.kubeconfig(directory, "bad", unused.url, user=hostile.exec_user(plugin))
        yield directory
        return
    server = {"blackhole": hostile.Blackhole, "drip": hostile.DripFeed, "endless": hostile.EndlessPages}[
        what
    ]()
    with server:
        hostile.kubeconfig(directory, "bad", server.url)
        yield directory


def live_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("k8s-live")]


@pytest.mark.parametrize("bad", ["blackhole", "drip", "endless", "hung-exec"], indirect=True)
def test_one_stuck_cluster_never_starves_the_others(fleet: Fleet, pods: str, bad: Path) -> None:
    files = [*sorted(fleet.kubeconfig_dir.iterdir()), *sorted(bad.iterdir())]
    registry = ContextRegistry(directory=None, files=files)
    source = LiveSource(registry, timeout=TIMEOUT, ttl=0, max_workers=WORKERS, max_items=20_000)
    state = ClusterState(registry, source)
    contexts = [*fleet.contexts, "bad"]
    try:
        for round_ in range(ROUNDS):
            started = time.monotonic()
            result = state.pods(contexts, namespace=pods)
            elapsed = time.monotonic() - started
            report = {c.context: c for c in result.clusters}
            assert elapsed < TIMEOUT + 1.5, f"round {round_}: {elapsed:.1f}s"
            assert [report[c].status for c in fleet.contexts] == ["ok"] * 3, (round_, report)
            assert sorted(p.name for p in result.items if p.context != "bad") == ["web-0", "web-1", "web-2"]
            bad_report = report["bad"]
            if bad_report.status == "ok":  # the endless list, cut at its bound before its deadline
                assert "list cut at 20000 pods" in (bad_report.note or "")
            else:
                assert bad_report.status == "timeout", bad_report
    finally:
        source.close()
    assert hostile.wait_until(lambda: not live_threads(), timeout=2), live_threads()
    assert hostile.wait_until(lambda: not hostile.processes_running("sleep 8123"), timeout=2)


def test_an_endless_list_stops_at_its_deadline_and_says_so(tmp_path: Path) -> None:
    """Pages that keep coming (slowly enough that the size bound is not reached) stop at the
    deadline: the work ends and the server sees no more requests."""
    with hostile.EndlessPages(page=50) as server:
        hostile.kubeconfig(tmp_path, "endless", server.url)
        registry = ContextRegistry(directory=None, files=[tmp_path / "endless.yaml"])
        source = LiveSource(registry, timeout=0.5, ttl=0, page_size=50)
        try:
            result = ClusterState(registry, source).pods("endless")
            assert result.clusters[0].status in ("ok", "timeout")
            if result.clusters[0].status == "ok":
                assert "list cut" in (result.clusters[0].note or "")
            time.sleep(0.5 * 3)  # the list's whole budget: 3 times the timeout
            served = server.requests
            time.sleep(1)
            assert server.requests == served, "the list went on after its deadline"
        finally:
            source.close()


def test_a_repeated_continue_token_ends_the_list(tmp_path: Path) -> None:
    class SameToken(hostile.EndlessPages):
        def serve(self, conn):  # type: ignore[no-untyped-def]
            while self.read_request(conn) is not None:
                body = b'{"kind":"PodList","metadata":{"continue":"again"},"items":[]}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    with SameToken() as server:
        hostile.kubeconfig(tmp_path, "loop", server.url)
        registry = ContextRegistry(directory=None, files=[tmp_path / "loop.yaml"])
        source = LiveSource(registry, timeout=2, ttl=0)
        try:
            report = ClusterState(registry, source).pods("loop").clusters[0]
        finally:
            source.close()
    assert (report.status, report.error) == ("error", "the API server returned the same continue token twice")
    assert server.requests == 2


def test_a_forbidden_answer_is_remembered_for_the_ttl_not_asked_again(tmp_path: Path) -> None:
    class Forbidding(hostile.FakeServer):
        def serve(self, conn):  # type: ignore[no-untyped-def]
            while self.read_request(conn) is not None:
                body = b'{"kind":"Status","status":"Failure","message":"pods is forbidden: User \\"x\\" cannot list resource \\"pods\\"","reason":"Forbidden","code":403}'
                conn.sendall(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body)
                )

    with Forbidding() as server:
        hostile.kubeconfig(tmp_path, "denied", server.url)
        registry = ContextRegistry(directory=None, files=[tmp_path / "denied.yaml"])
        source = LiveSource(registry, timeout=2, ttl=60)
        try:
            state = ClusterState(registry, source)
            for _ in range(3):
                assert state.pods("denied").clusters[0].status == "forbidden"
        finally:
            source.close()
    assert server.requests == 1
