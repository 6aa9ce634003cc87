"""End to end with --watch: the installed console script over stdio, driven by the official MCP
client, answers from the cache once synced, reports the cache, and ends within 2 s."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import anyio
import pytest

from integration import seed
from integration.backends import Fleet
from integration.test_e2e_hardening import INITIALIZE, stop
from integration.test_e2e_stdio import SCRIPT, server_env, session, text


def test_watch_mode_answers_from_the_cache_and_reports_it(
    fleet: Fleet, namespace: str, tmp_path: Path
) -> None:
    for index, ctx in enumerate(fleet.contexts):
        seed.create_pod(fleet.admin(ctx), namespace, f"web-{index}")
        seed.set_pod_status(
            fleet.admin(ctx), namespace, f"web-{index}", "crashloop" if index == 1 else "running"
        )
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))
    allow = ",".join(fleet.contexts)

    async def run() -> None:
        async with session(env, "--watch", "--contexts", allow) as client:
            first = await client.call_tool("k8s_get_resources", {"kind": "pods", "namespace": namespace})
            assert sum(f"web-{i}" in text(first) for i in range(3)) == 3, "answered before sync: live"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                status = (await client.call_tool("k8s_cache_status", {})).structured_content or {}
                if len(status["entries"]) == 9 and all(e["synced"] for e in status["entries"]):
                    break
                await anyio.sleep(0.2)
            assert status["mode"] == "watch"
            assert {(e["context"], e["kind"]) for e in status["entries"]} == {
                (c, k) for c in fleet.contexts for k in ("pods", "deployments", "nodes")
            }
            report = text(await client.call_tool("k8s_cache_status", {"context": fleet.contexts[0]}))
            assert report.startswith("Watch cache: 3 of 3 (context, kind) synced")
            result = await client.call_tool("k8s_get_resources", {"kind": "pods", "namespace": namespace})
            body = text(result)
            assert body.splitlines()[0].startswith("3 of 3 clusters answered (cache, data ≤")
            assert "CrashLoopBackOff" in body
            assert {c["source"] for c in (result.structured_content or {})["clusters"]} == {"cache"}
            seed.create_pod(fleet.admin(fleet.contexts[0]), namespace, "late")
            deadline = time.monotonic() + 10
            while "late" not in text(
                await client.call_tool("k8s_get_resources", {"kind": "pods", "namespace": namespace})
            ):
                assert time.monotonic() < deadline, "a new pod reaches the cache through the watch"
                await anyio.sleep(0.2)

    anyio.run(run)


def test_on_demand_mode_says_the_cache_is_off(tmp_path: Path, fleet: Fleet) -> None:
    async def run() -> None:
        async with session(server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))) as client:
            result = await client.call_tool("k8s_cache_status", {})
            assert text(result).startswith("The watch cache is off (on-demand mode)")
            assert (result.structured_content or {})["mode"] == "on-demand"

    anyio.run(run)


@pytest.mark.parametrize("how", ["stdin closed", "SIGTERM", "SIGINT"])
def test_watch_mode_ends_within_2s_while_reflectors_run(fleet: Fleet, tmp_path: Path, how: str) -> None:
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))
    proc = subprocess.Popen(
        [str(SCRIPT), "--watch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(INITIALIZE) + "\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["id"] == 1
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
        proc.stdin.write(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 2,
                    "method": "tools/call",
                    "params": {"name": "k8s_cache_status", "arguments": {}},
                }
            )
            + "\n"
        )
        proc.stdin.flush()
        time.sleep(3)  # the reflectors have listed and are watching
        answer = json.loads(proc.stdout.readline())
        assert answer["id"] == 2
        elapsed = stop(proc, how)
    finally:
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate()
    assert elapsed < 2.0, f"{how}: {elapsed:.2f}s"
    assert proc.returncode == 0, stderr[-2000:]
