"""A drain on a real node, over stdio with the official MCP client, reports its evictions as
progress (issue 21 item 2): in order, each naming a pod the drain evicted, the last saying all of
them were; the dry run the confirmation shows first says "would evict". Cluster cp-1; its only
node is uncordoned at the end."""

from __future__ import annotations

import contextlib
import re
import secrets
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.stdio import StdioServerParameters
from mcp_types import ElicitRequestParams, ElicitResult

from integration import seed
from integration.backends import RealFleet
from integration.real_nodes_mcp import available, deployment, wait_for
from integration.test_e2e_stdio import SCRIPT, server_env

pytestmark = pytest.mark.realnodes
EVICTED = re.compile(r"^(evicted|would evict) (\S+)/(\S+) \((\d+) of (\d+)\)$")


def test_a_drain_reports_each_eviction_in_order(real_fleet: RealFleet, tmp_path: Path) -> None:
    ctx = real_fleet.contexts[0]
    (node,) = real_fleet.node_names(ctx)
    admin = real_fleet.admin(ctx)
    ns = f"pg-{secrets.token_hex(3)}"
    seed.create_namespace(admin, ns)
    seed.wait_until_pods_can_start(admin, ns)
    real_fleet.apps(ctx).create_namespaced_deployment(ns, deployment("drained", 3))
    wait_for("drained available", lambda: available(real_fleet, ctx, ns, "drained", 3), timeout=90)
    told: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        told.append((done, total, message))

    async def accept(_: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": True})

    env = server_env(tmp_path, KUBECONFIG_DIR=str(real_fleet.kubeconfig_dir))
    params = StdioServerParameters(
        command=str(SCRIPT), args=["--contexts", ctx, "--toolsets", "all"], env=env
    )

    async def drain() -> Any:
        async with Client(
            params, read_timeout_seconds=120, mode="legacy", elicitation_callback=accept
        ) as client:
            return await client.call_tool(
                "k8s_drain_node",
                {"node_name": node, "context": ctx, "timeout": 30},
                progress_callback=on_progress,
            )

    try:
        answer = anyio.run(drain)
        assert not answer.is_error, answer
        outcomes = [i for i in answer.structured_content["items"] if i["kind"] == "pods"]
    finally:
        real_fleet.core(ctx).patch_node(node, {"spec": {"unschedulable": None}})
        with contextlib.suppress(Exception):
            wait_for(
                "drained available again", lambda: available(real_fleet, ctx, ns, "drained", 3), timeout=90
            )
        seed.delete_namespace(admin, ns)
    numbers = [done for done, _, _ in told]
    assert numbers == sorted(set(numbers)), told  # in order
    said = [EVICTED.match(message or "") for _, _, message in told]
    assert all(said), told
    real = [m for m in said if m is not None and m[1] == "evicted"]
    evicted = {(i["namespace"], i["name"]) for i in outcomes if i["verb"] == "evicted"}
    assert {("drained-" in i["name"]) for i in outcomes if i["verb"] == "evicted"} >= {True}, outcomes
    assert real and {(m[2], m[3]) for m in real} <= evicted, (told, outcomes)
    last = real[-1]
    assert last[4] == last[5] == str(len(evicted)), (told, outcomes)  # the last: all evicted
