"""The fleet question "which pods are failing anywhere?" end to end, side by side, on the local
control plane (3 clusters x N pods, 2% failing in mixed states; seeding is not timed).

Contestants, each asked the way a model must ask it, in interleaved rounds:
- this server over MCP stdio, `--watch` (after sync) and on-demand: one `k8s_fleet_failing_pods`;
- containers/kubernetes-mcp-server (the Go binary from its npm package), over MCP stdio: one
  `pods_list` per context (it has no failure triage, so the model gets every pod);
- the original k8s-multicluster-mcp's way: one `k8s_get_resources` per context, which returned
  the kubernetes client's `list_...().to_dict()`; reproduced in process with the same client call;
- kubectl-mcp-server (PyPI, in a virtual environment of its own), over MCP stdio: one `kubectl_get`
  of pods in all namespaces per context; it runs the `kubectl` binary, so it is skipped, with the
  reason, where none is on PATH.
For each: calls, median and p90 time for the complete answer, bytes returned to the model, and
whether every failing pod is named in it.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from integration import seed
from integration.backends import ControlPlaneFleet

SCRIPT = Path(sys.executable).with_name("k8s-multicluster-mcp")
PEER_PACKAGE = "kubernetes-mcp-server-linux-amd64@0.0.67"
KUBECTL_MCP_PACKAGE = "kubectl-mcp-server==2.0.0"
PEER_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "k8s-multicluster-mcp" / "peers"
NAMESPACE = "bench"


def peer_binary() -> tuple[Path | None, str]:
    """The Go peer's binary, installed from its npm package into a cache outside the repo."""
    binary = (
        PEER_DIR
        / "node_modules"
        / "kubernetes-mcp-server-linux-amd64"
        / "bin"
        / "kubernetes-mcp-server-linux-amd64"
    )
    if binary.exists():
        return binary, ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not installed"
    PEER_DIR.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(PEER_DIR), PEER_PACKAGE],
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    if not binary.exists():
        return None, f"npm install {PEER_PACKAGE} failed: {done.stderr.strip()[-300:]}"
    return binary, ""


def kubectl_mcp() -> tuple[Path | None, str]:
    """kubectl-mcp-server from PyPI, installed into its own virtual environment in the cache."""
    if shutil.which("kubectl") is None:
        return None, "it runs the kubectl binary for every answer, and no kubectl is on PATH"
    venv = PEER_DIR / "kubectl-mcp"
    command = venv / "bin" / "kubectl-mcp"
    if not command.exists():
        PEER_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", KUBECTL_MCP_PACKAGE],
                              capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
        if not command.exists():
            return None, f"pip install {KUBECTL_MCP_PACKAGE} failed: {done.stderr.strip()[-300:]}"
    return command, ""


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def result_bytes(result: Any) -> int:
    """Bytes the model receives: the text content plus the structured content, as JSON."""
    structured = result.structured_content
    return len(text_of(result).encode()) + (
        len(json.dumps(structured, separators=(",", ":"))) if structured else 0
    )


Ask = Callable[[], Awaitable[tuple[int, int, str]]]
"""One complete answer: (calls, bytes, text the model sees)."""


def original_way(fleet: ControlPlaneFleet) -> Ask:
    from kubernetes.client import CoreV1Api

    async def ask() -> tuple[int, int, str]:
        def lists() -> str:
            parts = []
            for ctx in fleet.contexts:
                pods = CoreV1Api(fleet.admin(ctx)).list_pod_for_all_namespaces().to_dict()
                parts.append(json.dumps(pods, default=str))
            return "\n".join(parts)

        body = await anyio.to_thread.run_sync(lists)
        return len(fleet.contexts), len(body.encode()), body

    return ask


async def measure(contestants: dict[str, Ask], rounds: int, failing: list[str]) -> dict[str, dict[str, Any]]:
    times: dict[str, list[float]] = {name: [] for name in contestants}
    last: dict[str, tuple[int, int, str]] = {}
    for _ in range(rounds):
        for name, ask in contestants.items():  # interleaved: every contestant once per round
            started = time.perf_counter()
            last[name] = await ask()
            times[name].append(time.perf_counter() - started)
    out = {}
    for name, (calls, size, body) in last.items():
        ordered = sorted(times[name])
        out[name] = {
            "calls": calls, "p50_ms": statistics.median(ordered) * 1000,
            "p90_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))] * 1000,
            "bytes": size, "complete": all(pod in body for pod in failing),
        }  # fmt: skip
    return out


async def run_contestants(fleet: ControlPlaneFleet, rounds: int, failing: list[str]) -> dict[str, Any]:
    env = {**os.environ, "KUBECONFIG_DIR": str(fleet.kubeconfig_dir), "K8S_MCP_CACHE_TTL": "0"}
    env.pop("KUBECONFIG", None)
    allow = ",".join(fleet.contexts)
    skipped: dict[str, str] = {}
    async with AsyncExitStack() as stack:
        ours: dict[str, Client] = {}
        for mode, flags in (("watch", ["--watch"]), ("on-demand", [])):
            params = StdioServerParameters(command=str(SCRIPT), args=["--contexts", allow, *flags], env=env)
            ours[mode] = await stack.enter_async_context(Client(params, read_timeout_seconds=120))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = (await ours["watch"].call_tool("k8s_cache_status", {})).structured_content or {}
            if status.get("entries") and all(e["synced"] for e in status["entries"]):
                break
            await anyio.sleep(0.2)

        def our_ask(client: Client) -> Ask:
            async def ask() -> tuple[int, int, str]:
                result = await client.call_tool("k8s_fleet_failing_pods", {"limit": 1000})
                return 1, result_bytes(result), text_of(result)

            return ask

        contestants: dict[str, Ask] = {
            "this server --watch": our_ask(ours["watch"]),
            "this server on-demand": our_ask(ours["on-demand"]),
        }
        binary, why = peer_binary()
        if binary is None:
            skipped["kubernetes-mcp-server"] = why
        else:
            kubeconfigs = os.pathsep.join(str(fleet.kubeconfig_dir / f"{c}.yaml") for c in fleet.contexts)
            peer_env = {**os.environ, "KUBECONFIG": kubeconfigs}
            params = StdioServerParameters(command=str(binary), args=["--read-only"], env=peer_env)
            peer = await stack.enter_async_context(Client(params, read_timeout_seconds=120))

            async def peer_ask() -> tuple[int, int, str]:
                bodies, size = [], 0
                for ctx in fleet.contexts:
                    result = await peer.call_tool("pods_list", {"context": ctx})
                    bodies.append(text_of(result))
                    size += result_bytes(result)
                return len(fleet.contexts), size, "\n".join(bodies)

            contestants["kubernetes-mcp-server"] = peer_ask
        kubectl_peer, why = kubectl_mcp()
        if kubectl_peer is None:
            skipped["kubectl-mcp-server"] = why
        else:
            kubeconfigs = os.pathsep.join(str(fleet.kubeconfig_dir / f"{c}.yaml") for c in fleet.contexts)
            params = StdioServerParameters(
                command=str(kubectl_peer), args=["--read-only"], env={**os.environ, "KUBECONFIG": kubeconfigs}
            )
            kubectl_client = await stack.enter_async_context(Client(params, read_timeout_seconds=120))

            async def kubectl_ask() -> tuple[int, int, str]:
                bodies, size = [], 0
                for ctx in fleet.contexts:
                    arguments = {"resource_type": "pods", "all_namespaces": True, "context": ctx}
                    result = await kubectl_client.call_tool("kubectl_get", arguments)
                    bodies.append(text_of(result))
                    size += result_bytes(result)
                return len(fleet.contexts), size, "\n".join(bodies)

            contestants["kubectl-mcp-server"] = kubectl_ask
        contestants["original (k8s_get_resources per context)"] = original_way(fleet)
        results = await measure(contestants, rounds, failing)
    return {"contestants": results, "skipped": skipped}


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    watch = results["this server --watch"]
    out = {"watch_vs_on_demand_time_ratio": results["this server on-demand"]["p50_ms"] / watch["p50_ms"]}
    for name, figures in results.items():
        if name.startswith("this server"):
            continue
        key = name.split(" ")[0].replace("-", "_")
        out[f"watch_vs_{key}_time_ratio"] = figures["p50_ms"] / watch["p50_ms"]
        out[f"watch_vs_{key}_bytes_ratio"] = figures["bytes"] / watch["bytes"]
    return out


def run(pods: int = 2000, rounds: int = 9) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="k8s-mcp-bench-"))
    fleet = ControlPlaneFleet(workdir)
    try:
        failing: list[str] = []
        for ctx in fleet.contexts:
            seed.create_namespace(fleet.admin(ctx), NAMESPACE)
            failing += [
                f"{name}" for name in seed.create_fleet_pods(fleet.admin(ctx), NAMESPACE, pods, pods // 50)
            ]
        out = anyio.run(run_contestants, fleet, rounds, sorted(set(failing)))
        out.update(clusters=len(fleet.contexts), pods_per_cluster=pods, failing=len(failing), rounds=rounds)
        out["ratios"] = ratios(out["contestants"])
        return out
    finally:
        fleet.close()
        shutil.rmtree(workdir, ignore_errors=True)


def report(figures: dict[str, Any]) -> None:
    print(f"fleet question: {figures['clusters']} clusters x {figures['pods_per_cluster']} pods, {figures['failing']} failing, "
          f"{figures['rounds']} interleaved rounds")  # fmt: skip
    print(f"  {'contestant':<42} {'calls':>5} {'p50 ms':>9} {'p90 ms':>9} {'bytes':>12}  complete")
    for name, f in figures["contestants"].items():
        print(
            f"  {name:<42} {f['calls']:>5} {f['p50_ms']:>9.1f} {f['p90_ms']:>9.1f} {f['bytes']:>12,}  {'yes' if f['complete'] else 'NO'}"
        )
    for name, why in figures["skipped"].items():
        print(f"  {name}: skipped: {why}")
    for key, value in figures["ratios"].items():
        print(f"  {key}: {value:.1f}x")


def main() -> int:
    quick = "--quick" in sys.argv
    report(run(pods=300 if quick else 2000, rounds=3 if quick else 9))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
