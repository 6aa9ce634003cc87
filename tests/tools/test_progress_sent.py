"""Progress reports from worker threads reach the client in order, throttled, the last always
(`tools.base.progress_sent`)."""

from __future__ import annotations

import inspect
import itertools
import time

import anyio
import pytest
from mcp.server.mcpserver.utilities.context_injection import find_context_parameter

from k8s_multicluster_mcp.common import progress
from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.tools.base import CONTEXT, Services, bind, progress_sent, run_blocking
from k8s_multicluster_mcp.writes.writer import ObjectWriter


def _sent(reports: int, every: float) -> list[tuple[float, float | None, str | None, float]]:
    sent: list[tuple[float, float | None, str | None, float]] = []

    async def send(progress: float, total: float | None, message: str | None) -> None:
        sent.append((progress, total, message, time.monotonic()))

    def work(sink: object) -> None:
        for i in range(1, reports + 1):
            sink(i, reports, f"{i} of {reports}")  # type: ignore[operator]

    async def main() -> None:
        async with progress_sent(send, every) as sink:
            await anyio.to_thread.run_sync(work, sink)

    anyio.run(main)
    return sent


def test_a_burst_is_throttled_and_ends_with_the_last() -> None:
    sent = _sent(100, every=0.1)
    assert len(sent) <= 3
    assert sent[-1][:3] == (100, 100, "100 of 100")
    assert [s[0] for s in sent] == sorted(s[0] for s in sent)


def test_reports_further_apart_than_the_interval_all_arrive_spaced() -> None:
    sent: list[float] = []

    async def send(progress: float, total: float | None, message: str | None) -> None:
        sent.append(time.monotonic())

    def work(sink: object) -> None:
        for i in range(1, 4):
            sink(i, 3, "")  # type: ignore[operator]
            time.sleep(0.05)

    async def main() -> None:
        async with progress_sent(send, 0.02) as sink:
            await anyio.to_thread.run_sync(work, sink)

    anyio.run(main)
    assert len(sent) == 3
    assert all(b - a >= 0.02 for a, b in itertools.pairwise(sent))


class _Context:
    """Just what `bind` uses of the SDK's Context: the request's `_meta`, `report_progress`."""

    def __init__(self, meta: dict[str, object] | None) -> None:
        self.request_context = self
        self.meta = meta
        self.sent: list[tuple[float, float | None, str | None]] = []

    async def report_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.sent.append((progress, total, message))


async def _evict(w: ObjectWriter, pods: int) -> str:
    """A tool whose work (in a worker thread, like every tool's) reports progress."""

    def work() -> str:
        step = progress.phase(pods)
        for i in range(1, pods + 1):
            if step is not None:
                step.step(i, f"evicted {i} of {pods}")
        if pods == 0:
            raise UserError("nothing to evict; valid: a node with pods")
        return "done"

    return await run_blocking(work)


def _call(
    meta: dict[str, object] | None, pods: int
) -> tuple[str, list[tuple[float, float | None, str | None]]]:
    context = _Context(meta)
    tool = bind(_evict, Services(None, None, None))  # type: ignore[arg-type]

    async def main() -> str:
        return await tool(pods=pods, **{CONTEXT: context})

    return anyio.run(main), context.sent


def test_a_tool_reports_progress_when_the_client_sent_a_token() -> None:
    result, sent = _call({"progress_token": 7}, 3)
    assert result == "done"
    assert sent[-1] == (3, 3, "evicted 3 of 3")


def test_runs_of_a_tool_in_one_request_count_on() -> None:
    context = _Context({"progress_token": 7})
    tool = bind(_evict, Services(None, None, None))  # type: ignore[arg-type]

    async def main() -> None:
        for _ in range(2):
            await tool(pods=2, **{CONTEXT: context})

    anyio.run(main)
    assert context.sent[-1] == (4, 4, "evicted 2 of 2")


def test_no_token_no_progress() -> None:
    assert _call({}, 3) == ("done", [])
    assert _call(None, 3) == ("done", [])


def test_a_tools_error_reaches_the_caller_as_it_is() -> None:
    with pytest.raises(UserError, match="nothing to evict"):
        _call({"progress_token": 7}, 0)


def test_the_sdk_hands_the_context_and_keeps_it_out_of_the_schema() -> None:
    tool = bind(_evict, Services(None, None, None))  # type: ignore[arg-type]
    assert find_context_parameter(tool) == CONTEXT
    assert list(inspect.signature(tool).parameters) == ["pods"]
