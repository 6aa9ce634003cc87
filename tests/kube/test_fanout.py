"""The fanout's budget counts from when the question asked, not from when a worker took the call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from k8s_multicluster_mcp.common.errors import ClusterTimeoutError
from k8s_multicluster_mcp.kube import deadlines
from k8s_multicluster_mcp.kube.fanout import Fanout, question
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


def test_the_calls_of_a_batch_start_together_when_it_ends_with_budgets_from_its_start() -> None:
    """Started one by one, the first calls' work took the GIL from the thread submitting the
    others (107 contexts: the last was sent 5.5 s after the first). A batch's calls wait for it."""
    fanout = Fanout(timeout=5, max_workers=4)
    started: list[str] = []
    budgets: list[float] = []

    def call(name: str) -> Callable[[deadlines.Deadline], None]:
        def run(d: deadlines.Deadline) -> None:
            started.append(name)
            budgets.append(d.seconds)

        return run

    try:
        with fanout.batch() as asked:
            first = fanout.submit(ctx("a"), call("a"), budget=5, what="x")
            with fanout.batch() as inner:  # nested: one batch, the outer one
                second = fanout.submit(ctx("b"), call("b"), budget=5, what="x")
            assert inner == asked
            threading.Event().wait(0.3)
            assert started == [], "no call of a batch runs before the batch is submitted"
        first.result(5), second.result(5)
        assert sorted(started) == ["a", "b"]
        assert all(b < 5 - 0.25 for b in budgets), "the budget counts from the batch's start"
        outside = fanout.one(ctx("c"), lambda d: d.seconds, budget=5, what="x")
        assert outside > 4.5, "a call outside a batch starts at once, with its whole budget"
    finally:
        fanout.close()


def test_gather_waits_from_the_questions_start() -> None:
    fanout = Fanout(timeout=0.5, max_workers=2)
    release = threading.Event()
    try:
        with fanout.batch() as asked:
            slow = fanout.submit(ctx("a"), lambda _: release.wait(5), budget=5, what="x")
            threading.Event().wait(0.3)
        waited = time.monotonic()
        answers = fanout.gather({"a": slow}, late="late", asked=asked)
        assert time.monotonic() - waited < 0.4, "the 0.3 s spent submitting counts against the timeout"
        assert isinstance(answers["a"], ClusterTimeoutError) and answers["a"].message == "late"
    finally:
        release.set()
        fanout.close()


def test_within_a_question_a_cluster_that_did_not_answer_is_not_asked_again() -> None:
    """The summary asks each cluster three lists in turn: a hung one cost three timeouts."""
    fanout = Fanout(timeout=0.3, max_workers=4)
    release = threading.Event()
    asked: list[str] = []

    def hangs(_: deadlines.Deadline) -> None:
        asked.append("hung")
        release.wait(5)

    try:
        with question():
            first = fanout.gather({"hung": fanout.submit(ctx("hung"), hangs, budget=5, what="x")})
            assert first["hung"].status == "timeout"  # type: ignore[union-attr]
            started = time.monotonic()
            again = fanout.gather({"hung": fanout.submit(ctx("hung"), hangs, budget=5, what="x")})
            assert time.monotonic() - started < 0.1 and again["hung"] is first["hung"]
            ok = fanout.one(ctx("ok"), lambda _: "answer", budget=5, what="x")
            assert ok == "answer", "only the cluster that failed is skipped"
        assert asked == ["hung"]
        release.set()
        outside = fanout.one(ctx("hung"), lambda _: asked.append("hung") or "back", budget=5, what="x")
        assert outside == "back", "the next question asks it again"
    finally:
        release.set()
        fanout.close()
