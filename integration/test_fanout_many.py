"""A fleet question over more contexts than the old pool held: dead contexts are `unreachable`,
hung ones `timeout`, live ones answer, and the answer comes within one timeout (issue 18).

Before, with 16 workers, the dead contexts queued behind hung ones and were reported `timeout`;
the server's default pool now gives each context of a question its worker, and a call's budget
counts from the question's start.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

from integration import hostile
from integration.backends import Fleet
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.settings import Settings
from k8s_multicluster_mcp.sources import LiveSource

TIMEOUT = 2.0
DEAD, HUNG = 5, 20
"""More hung contexts than the old default pool (16), so dead ones would have queued."""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dead_are_unreachable_and_hung_time_out_within_one_timeout(fleet: Fleet, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    dead = [f"dead-{i}" for i in range(DEAD)]
    hung = [f"hung-{i}" for i in range(HUNG)]
    with contextlib.ExitStack() as stack:
        for name in hung:
            hostile.kubeconfig(bad, name, stack.enter_context(hostile.Blackhole()).url)
        for name in dead:
            hostile.kubeconfig(bad, name, f"https://127.0.0.1:{closed_port()}")
        files = [*sorted(fleet.kubeconfig_dir.iterdir()), *sorted(bad.iterdir())]
        registry = ContextRegistry(directory=None, files=files)
        fanout = Fanout(timeout=TIMEOUT, max_workers=Settings().max_workers)
        source = LiveSource(registry, timeout=TIMEOUT, ttl=0, fanout=fanout)
        try:
            contexts = [*hung, *fleet.contexts, *dead]  # the hung ones asked first
            started = time.monotonic()
            result = ClusterState(registry, source).pods(contexts)
            elapsed = time.monotonic() - started
        finally:
            source.close()
            fanout.close()
    status = {c.context: c.status for c in result.clusters}
    assert {status[n] for n in dead} == {"unreachable"}, status
    assert {status[n] for n in hung} == {"timeout"}, status
    assert {status[n] for n in fleet.contexts} == {"ok"}, status
    assert elapsed < TIMEOUT + 3, f"{elapsed:.1f}s for a {TIMEOUT:g}s timeout"


def test_the_summary_waits_for_a_hung_cluster_once_not_once_per_kind(fleet: Fleet, tmp_path: Path) -> None:
    """The summary lists nodes, pods and deployments in turn; with a hung cluster it took three
    timeouts (9 s for `--request-timeout 3`). Within one question (a tool call runs as one), a
    cluster that did not answer is not asked again."""
    from k8s_multicluster_mcp.kube.fanout import question
    from k8s_multicluster_mcp.query import fleet as fleet_query

    bad = tmp_path / "bad"
    with hostile.Blackhole() as hung:
        hostile.kubeconfig(bad, "hung-0", hung.url)
        files = [*sorted(fleet.kubeconfig_dir.iterdir()), *sorted(bad.iterdir())]
        registry = ContextRegistry(directory=None, files=files)
        fanout = Fanout(timeout=TIMEOUT, max_workers=Settings().max_workers)
        source = LiveSource(registry, timeout=TIMEOUT, ttl=0, fanout=fanout)
        try:
            started = time.monotonic()
            with question():
                answer = fleet_query.summary(ClusterState(registry, source), ["hung-0", *fleet.contexts])
            elapsed = time.monotonic() - started
        finally:
            source.close()
            fanout.close()
    status = {c.context: c.status for c in answer.clusters}
    assert status["hung-0"] == "timeout" and {status[n] for n in fleet.contexts} == {"ok"}, status
    rows = {s.context: s for s in answer.items}
    assert all(rows[n].pods_by_phase is not None and rows[n].nodes is not None for n in fleet.contexts), rows
    assert elapsed < 2 * TIMEOUT, f"{elapsed:.1f}s for a {TIMEOUT:g}s timeout: waited more than once"
