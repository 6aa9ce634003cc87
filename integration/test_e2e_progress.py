"""End to end over stdio with the official MCP client: a fan-out over 4 clusters, one of them a
fake API server that never answers, sends progress notifications in order as the clusters
answer, the last naming the one that did not (a read of any kind, and the fleet summary that fans
out once per kind); a call without a progress token gets none."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from integration import hostile
from integration.backends import Fleet
from integration.test_e2e_stdio import SCRIPT, server_env, text

SLOW = "eks-slow"


@pytest.fixture
def with_slow_context(fleet: Fleet, tmp_path: Path) -> Any:
    """The fleet's kubeconfigs plus `eks-slow`, a server that accepts and never answers."""
    directory = tmp_path / "kube"
    shutil.copytree(fleet.kubeconfig_dir, directory)
    with hostile.Blackhole() as slow:
        hostile.kubeconfig(directory, SLOW, slow.url)
        yield directory


def test_a_fanout_reports_progress_in_order_and_only_when_asked(
    fleet: Fleet, with_slow_context: Path, tmp_path: Path
) -> None:
    env = server_env(
        tmp_path, KUBECONFIG_DIR=str(with_slow_context), K8S_MCP_REQUEST_TIMEOUT="3", K8S_MCP_CACHE_TTL="0"
    )
    contexts = [*fleet.contexts, SLOW]
    progress: list[tuple[float, float | None, str | None]] = []
    seen: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    summary: list[tuple[float, float | None, str | None]] = []

    async def on_summary(done: float, total: float | None, message: str | None) -> None:
        summary.append((done, total, message))

    async def on_message(message: Any) -> None:
        seen.append(type(getattr(message, "root", message)).__name__)

    async def run() -> tuple[str, str]:
        params = StdioServerParameters(command=str(SCRIPT), args=["--contexts", ",".join(contexts)], env=env)
        async with Client(params, read_timeout_seconds=60, message_handler=on_message) as client:
            plain = await client.call_tool("k8s_get_resources", {"kind": "namespaces"})
            assert not [s for s in seen if "Progress" in s], seen
            asked = await client.call_tool(
                "k8s_get_resources", {"kind": "namespaces"}, progress_callback=on_progress
            )
            # The handler sees progress notifications when there are some: none came unasked.
            assert seen.count("ProgressNotification") == len(progress), (seen, progress)
            await client.call_tool("k8s_fleet_summary", {}, progress_callback=on_summary)
            return text(plain), text(asked)

    plain, asked = anyio.run(run)
    assert plain.startswith("3 of 4 clusters answered") and asked.startswith("3 of 4 clusters answered")
    assert len(progress) >= 2, progress
    numbers = [done for done, _, _ in progress]
    assert numbers == sorted(set(numbers)), progress  # strictly increasing: in order
    assert all(total == 4 for _, total, _ in progress), progress
    assert all(SLOW in (message or "") for _, _, message in progress), progress  # still waiting
    assert progress[-2][2] == f"3 of 4 clusters answered; waiting for {SLOW}", progress
    assert progress[-1] == (4, 4, f"3 of 4 clusters answered; no answer from {SLOW}")
    # The summary fans out once per kind it reads: each fan-out's numbers follow the last's.
    numbers = [done for done, _, _ in summary]
    assert numbers == sorted(set(numbers)), summary
    assert summary[-1][2] == f"3 of 4 clusters answered; no answer from {SLOW}", summary
    assert summary[-1][0] == summary[-1][1], summary
