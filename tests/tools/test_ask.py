"""`ask`: a read memory answers runs on the event loop; one that would block is asked again in a
worker thread; either way in a copy of the caller's context."""

from __future__ import annotations

import threading
from contextvars import ContextVar

import anyio

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.kube import noblock
from k8s_multicluster_mcp.tools.base import ask


def test_a_question_memory_answers_runs_on_the_event_loop() -> None:
    async def run() -> tuple[int, int]:
        return threading.get_ident(), await ask(threading.get_ident)

    loop, answered_on = anyio.run(run)
    assert answered_on == loop


def test_a_question_that_would_block_is_asked_again_in_a_worker_thread() -> None:
    runs: list[int] = []

    def question(x: int) -> int:
        runs.append(threading.get_ident())
        noblock.check("a call to a cluster")
        return 2 * x

    async def run() -> tuple[int, int]:
        return threading.get_ident(), await ask(question, 21)

    loop, answer = anyio.run(run)
    assert answer == 42
    assert len(runs) == 2 and runs[0] == loop and runs[1] != loop


def test_what_a_question_sets_stays_in_it_and_the_caller_reaches_it_on_the_loop_and_in_a_thread() -> None:
    var: ContextVar[str] = ContextVar("var", default="outside")

    def question(block: bool) -> tuple[str, str]:
        var.set("inside")
        if block:
            noblock.check("a call to a cluster")
        return var.get(), caller.by()

    async def run() -> tuple[tuple[str, str], tuple[str, str], str]:
        caller.current.set(caller.Caller("alice", groups=("sre",)))
        return await ask(question, False), await ask(question, True), var.get()

    on_loop, in_thread, after = anyio.run(run)
    assert on_loop == in_thread == ("inside", " by sub=alice groups=sre")
    assert after == "outside"
