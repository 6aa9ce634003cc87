"""End to end: the console script over stdio with --watch --health-port: /healthz answers, /readyz is
503 until the watches synced and 200 after, a stopped cluster is named there without holding it back,
and /metrics (parsed with prometheus_client's parser) shows the tool calls made over MCP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import anyio
from prometheus_client.parser import text_string_to_metric_families

from integration.backends import Fleet
from integration.controlplane.process import free_port
from integration.test_e2e_stdio import server_env, session


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:  # nosec B310
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def until(
    port: int, path: str, done: Callable[[int, str], object], within: float, what: str
) -> tuple[int, str]:
    deadline = time.monotonic() + within
    while True:
        try:
            status, body = await anyio.to_thread.run_sync(get, port, path)
            if done(status, body):
                return status, body
        except OSError:
            pass  # not listening yet
        assert time.monotonic() < deadline, f"{what} within {within:g}s"
        await anyio.sleep(0.2)


def test_health_port_readiness_follows_the_watches_and_metrics_show_the_calls(
    running_fleet: Fleet, tmp_path: Path
) -> None:
    port = free_port()
    env = server_env(tmp_path, KUBECONFIG_DIR=str(running_fleet.kubeconfig_dir))
    allow = ",".join(running_fleet.contexts)
    seen: list[int] = []

    async def run() -> None:
        async with session(env, "--watch", "--contexts", allow, "--health-port", str(port)) as client:
            assert (await until(port, "/healthz", lambda s, _: True, 60, "/healthz answers")) == (200, "ok\n")
            _, body = await until(
                port, "/readyz", lambda s, _: seen.append(s) or s == 200, 60, "/readyz 200 once synced"
            )
            assert seen[0] == 503, f"not ready before the watches synced: {seen[:3]}"
            assert json.loads(body)["contexts"] == dict.fromkeys(sorted(running_fleet.contexts), "synced")

            await client.call_tool("k8s_get_contexts", {})
            await client.call_tool("k8s_get_resources", {"kind": "pods"})
            await client.call_tool("k8s_no_such_tool", {})
            _, text = await until(port, "/metrics", lambda s, _: s == 200, 10, "/metrics")
            found = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
            assert found[("k8s_mcp_tool_calls_total", (("tool", "k8s_get_contexts"),))] == 1
            assert found[("k8s_mcp_tool_calls_total", (("tool", "k8s_get_resources"),))] == 1
            assert found[("k8s_mcp_tool_errors_total", (("tool", "unknown"),))] == 1
            first = running_fleet.contexts[0]
            assert found[("k8s_mcp_cache_synced", (("context", first), ("kind", "pods")))] == 1
            assert found[("k8s_mcp_ready", ())] == 1
            assert all(name.startswith("k8s_mcp_") for name, _ in found)

            down = running_fleet.contexts[1]
            running_fleet.stop(down)
            status, body = await until(
                port, "/readyz", lambda s, b: json.loads(b)["contexts"].get(down) == "down", 60,
                "the stopped cluster named down",
            )  # fmt: skip
            assert status == 200, f"a stopped cluster does not hold readiness back: {body}"
            assert json.loads(body)["contexts"][first] == "synced"

    anyio.run(run)
