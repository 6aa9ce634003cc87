"""The fanout's budget counts from when the question asked, not from when a worker took the call."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from k8s_multicluster_mcp.common.errors import ClusterTimeoutError
from k8s_multicluster_mcp.kube import deadlines
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.model.contexts import ContextInfo


def ctx(name: str) -> ContextInfo:
    return ContextInfo(
        name=name, raw_name=name, file=Path("kubeconfig"), cluster=name, server="https://127.0.0.1:1",
        user="u", namespace=None, auth="token",
    )  # fmt: skip


def test_a_call_that_waited_for_a_worker_gets_only_what_is_left_or_is_not_sent() -> None:
    fanout = Fanout(timeout=5, max_workers=1)
    release = threading.Event()
    budgets: list[float] = []
    sent: list[str] = []
    try:
        blocker = fanout.submit(ctx("a"), lambda _: release.wait(10), budget=30, what="blocking")
        late = fanout.submit(ctx("b"), lambda _: sent.append("b"), budget=0.2, what="the list of pods")
        waiting = fanout.submit(ctx("c"), lambda d: budgets.append(d.seconds), budget=30, what="reading")
        threading.Event().wait(0.4)
        release.set()
        assert blocker.result(10) is True
        with pytest.raises(ClusterTimeoutError, match=r"the list of pods waited .*--max-workers"):
            late.result(10)
        waiting.result(10)
    finally:
        fanout.close()
    assert sent == [], "a call with no budget left must not be sent"
    assert budgets and budgets[0] < 30 - 0.3, "the wait for a worker counts against the budget"


def test_calls_run_under_a_deadline_of_their_budget() -> None:
    fanout = Fanout(timeout=5, max_workers=4)
    try:
        seen = fanout.one(ctx("a"), lambda d: (d.seconds, deadlines.current() is d), budget=7, what="x")
    finally:
        fanout.close()
    assert seen[1] and 6 < seen[0] <= 7
