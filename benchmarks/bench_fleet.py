"""The fleet question "which pods are failing anywhere?" end to end, side by side, on the local
control plane: 3 clusters x N realistic pods (`seed.create_realistic_fleet`: most Running and Ready,
owned by ReplicaSets, 2-3 containers, chart labels; seeding is not timed), in two scenarios
reported separately: steady state (2% failing in mixed states) and an incident (30% failing,
statuses patched; the watch caches are waited for).

Contestants, each asked the way a model must ask it, in interleaved rounds:
- this server over MCP stdio, `--watch` (after sync) and on-demand: one `k8s_fleet_failing_pods`,
  through the official `mcp` Client and through a raw JSON-RPC client (`RawClient`: newline-
  delimited JSON-RPC on the server's stdin and stdout, no SDK; the official client validates
  every structured item in pure Python, which is its time, not the server's);
- containers/kubernetes-mcp-server (the Go binary from its npm package), over MCP stdio: one
  `pods_list` per context (it has no failure triage, so the model gets every pod);
- the original k8s-multicluster-mcp's way: one `k8s_get_resources` per context, which returned
  the kubernetes client's `list_...().to_dict()`; reproduced in process with the same client call;
- kubectl-mcp-server (PyPI, in a virtual environment of its own), over MCP stdio: one `kubectl_get`
  of pods in all namespaces per context; it runs the `kubectl` binary, so it is skipped, with the
  reason, where none is on PATH.
For each: calls, median and p90 time for the complete answer (this server asked with `limit`=1000,
so it names every failing pod as the peers do), bytes, and how many of the failing pods it names.

Bytes are counted in three views, because clients differ in what they hand the model: the text
content only, the structured content only (a result without any is passed as its text), and both
(what the wire carries). "The benchmark question" for bytes is the one a model asks: "which pods are
failing across the fleet?", i.e. `k8s_fleet_failing_pods` with its defaults (the first `limit`=50
named, every failing pod counted by reason and by cluster), against each peer's complete listing,
which is the only way a peer can answer it. The complete list (`limit`=1000) is reported beside it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Literal

import anyio
import orjson
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from integration import seed
from integration.backends import ControlPlaneFleet

SCRIPT = Path(sys.executable).with_name("k8s-multicluster-mcp")
PEER_PACKAGE = "kubernetes-mcp-server-linux-amd64@0.0.67"
KUBECTL_MCP_PACKAGE = "kubectl-mcp-server==2.0.0"
PEER_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "k8s-multicluster-mcp" / "peers"
INCIDENT_SHARE = 0.3
LIMIT = 1000
REQUEST_TIMEOUT = 60
"""Our servers' --request-timeout: what is timed is the answer, and on a loaded machine a live list
of 2,000 pods can take more than the default 5 s (bench_scale measures the timeout itself)."""
READ_BUFFER = 1 << 20
RAW_WATCH = "this server --watch, raw JSON-RPC"
RAW_WATCH_AGAIN = "this server --watch, raw JSON-RPC, asked again at once"
FLOOR = "this server --watch, raw JSON-RPC: k8s_get_contexts (the floor)"
FLOOR_AGAIN = "this server --watch, raw JSON-RPC: the floor asked again at once"
WATCHING = ("watch", "floor")
"""The raw clients' --watch servers: each waited for (synced, the scenario's failing pods seen)."""


View = Literal["text", "structured", "both"]
Views = dict[str, int]
"""Bytes the model gets in each view (see the module docstring)."""
VIEWS: tuple[View, ...] = ("text", "structured", "both")


def views(text: str, structured: dict[str, Any] | None) -> Views:
    """Bytes of a result as a client passing the text only, the structured content only (its text
    when it has none), or both would hand them to the model; JSON as compact as clients send it."""
    words = len(text.encode())
    data = (
        len(json.dumps(structured, separators=(",", ":"), ensure_ascii=False).encode()) if structured else 0
    )
    return {"text": words, "structured": data or words, "both": words + data}


def add_views(a: Views, b: Views) -> Views:
    return {view: a.get(view, 0) + b[view] for view in VIEWS}


class RawClient:
    """An MCP client without an SDK: newline-delimited JSON-RPC written to the server's stdin and
    read from its stdout (initialize, notifications/initialized, then requests one at a time).
    Its own cost is a write, a readline and an orjson parse: what it times is the server's."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        # A buffer that holds a whole answer: read in one call, not in 8 KB pieces.
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=READ_BUFFER
        )
        self._id = 0
        self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        )
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(orjson.dumps(message) + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._id += 1
        self._send({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the server closed its stdout (exit code {self.proc.poll()})")
            message = orjson.loads(line)
            if message.get("id") == self._id:
                break
        if "error" in message:
            raise RuntimeError(f"{method}: {message['error']}")
        return dict(message["result"])

    def call_tool(self, name: str, arguments: dict[str, Any], *, check: bool = True) -> dict[str, Any]:
        """The tool's result; with `check`, an error result raises."""
        result = self.request("tools/call", {"name": name, "arguments": arguments})
        if check and result.get("isError"):
            raise RuntimeError(f"{name}: {raw_text(result)[:500]}")
        return result

    def close(self) -> None:
        end_child(self.proc)


def end_child(proc: subprocess.Popen[Any]) -> None:
    """Close a child's stdin (our servers and forwarders end at EOF); kill it if it lingers."""
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def raw_text(result: dict[str, Any]) -> str:
    return "\n".join(c.get("text", "") for c in result.get("content", []))


def raw_views(result: dict[str, Any]) -> Views:
    return views(raw_text(result), result.get("structuredContent"))


def wait_synced(client: RawClient, timeout: float = 600.0) -> float:
    """Seconds until every (context, kind) of the server's watch cache is synced."""
    started = time.monotonic()
    while time.monotonic() < started + timeout:
        status = client.call_tool("k8s_cache_status", {}).get("structuredContent") or {}
        if status.get("entries") and all(e["synced"] for e in status["entries"]):
            return time.monotonic() - started
        time.sleep(0.2)
    raise TimeoutError(f"the watch cache did not sync within {timeout:.0f} s")


def wait_failing(client: RawClient, expected: int, timeout: float = 300.0) -> float:
    """Seconds until `k8s_fleet_failing_pods` counts `expected` failing pods."""
    started = time.monotonic()
    total = None
    while time.monotonic() < started + timeout:
        total = (client.call_tool("k8s_fleet_failing_pods", {"limit": 1}).get("structuredContent") or {}).get(
            "total"
        )
        if total == expected:
            return time.monotonic() - started
        time.sleep(0.2)
    raise TimeoutError(f"{total} failing pods counted after {timeout:.0f} s, not {expected}")


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


def result_views(result: Any) -> Views:
    return views(text_of(result), result.structured_content)


Seen = Callable[[], tuple[Views, str]]
"""What a model gets from an answer: bytes in each view, and the text it sees. Worked out after the
answer is timed: counting bytes (a JSON dump of the structured content) is the benchmark's work,
about 0.3 ms for the complete answer of this server, and was once timed with it."""
Answer = tuple[int, Seen]
"""One complete answer: how many calls it took, and what the model gets from it."""
Ask = Callable[[], Awaitable[Answer]]


def seen_of(results: list[Any]) -> Seen:
    """What the model gets from the official client's results of one answer's calls."""

    def seen() -> tuple[Views, str]:
        size: Views = {}
        for result in results:
            size = add_views(size, result_views(result))
        return size, "\n".join(text_of(r) for r in results)

    return seen


def raw_seen(result: dict[str, Any]) -> Seen:
    return lambda: (raw_views(result), raw_text(result))


def original_way(fleet: ControlPlaneFleet) -> Ask:
    from kubernetes.client import CoreV1Api

    async def ask() -> Answer:
        def lists() -> str:
            parts = []
            for ctx in fleet.contexts:
                pods = CoreV1Api(fleet.admin(ctx)).list_pod_for_all_namespaces().to_dict()
                parts.append(json.dumps(pods, default=str))  # the original server's answer, timed
            return "\n".join(parts)

        body = await anyio.to_thread.run_sync(lists)
        return len(fleet.contexts), lambda: (views(body, None), body)

    return ask


async def measure(
    contestants: dict[str, Ask], rounds: int, failing: list[str], before: dict[str, Ask] | None = None
) -> dict[str, dict[str, Any]]:
    """Each contestant's answer timed once per round, in interleaved rounds. `before`: an untimed
    question a contestant is asked just before its timed one (the same again: "asked again at
    once"); without, each is asked after every other contestant has worked since its last turn."""
    times: dict[str, list[float]] = {name: [] for name in contestants}
    last: dict[str, Answer] = {}
    for ask in contestants.values():  # untimed: a server's first question loads its client
        await ask()
    for _ in range(rounds):
        for name, ask in contestants.items():  # interleaved: every contestant once per round
            if before and name in before:
                await before[name]()
            started = time.perf_counter()
            last[name] = await ask()
            times[name].append(time.perf_counter() - started)
    out = {}
    for name, (calls, seen) in last.items():
        size, body = seen()
        ordered = sorted(times[name])
        out[name] = {
            "calls": calls, "p50_ms": statistics.median(ordered) * 1000,
            "p90_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))] * 1000,
            "bytes": size["both"], "views": size, "named": sum(pod in body for pod in failing),
        }  # fmt: skip
    return out


async def run_contestants(
    fleet: ControlPlaneFleet, rounds: int, scenarios: dict[str, Callable[[list[RawClient]], list[str]]]
) -> dict[str, Any]:
    """Every contestant, measured in each scenario in turn: a scenario sets the clusters' state (given
    the raw clients of the watch servers, to wait for their caches) and returns the failing pods."""
    env = {**os.environ, "KUBECONFIG_DIR": str(fleet.kubeconfig_dir), "K8S_MCP_CACHE_TTL": "0"}
    env.pop("KUBECONFIG", None)
    allow = ",".join(fleet.contexts)
    skipped: dict[str, str] = {}
    async with AsyncExitStack() as stack:
        ours: dict[str, Client] = {}
        raws: dict[str, RawClient] = {}
        for mode, flags in (("watch", ["--watch"]), ("on-demand", [])):
            args = ["--contexts", allow, "--request-timeout", str(REQUEST_TIMEOUT), *flags]
            params = StdioServerParameters(command=str(SCRIPT), args=args, env=env)
            ours[mode] = await stack.enter_async_context(Client(params, read_timeout_seconds=120))
            raws[mode] = RawClient([str(SCRIPT), *args], env)
            stack.callback(raws[mode].close)
        # The floor (`k8s_get_contexts`, no cluster asked) on a --watch server of its own: asked on
        # the failing pods' server it would warm that server for them.
        watch_args = ["--contexts", allow, "--request-timeout", str(REQUEST_TIMEOUT), "--watch"]
        raws["floor"] = RawClient([str(SCRIPT), *watch_args], env)
        stack.callback(raws["floor"].close)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = (await ours["watch"].call_tool("k8s_cache_status", {})).structured_content or {}
            if status.get("entries") and all(e["synced"] for e in status["entries"]):
                break
            await anyio.sleep(0.2)
        for watching in WATCHING:
            await anyio.to_thread.run_sync(wait_synced, raws[watching])

        def our_ask(client: Client) -> Ask:
            async def ask() -> Answer:
                return 1, seen_of([await client.call_tool("k8s_fleet_failing_pods", {"limit": LIMIT})])

            return ask

        def raw_ask(
            client: RawClient, tool: str = "k8s_fleet_failing_pods", arguments: dict[str, Any] | None = None
        ) -> Ask:
            arguments = {"limit": LIMIT} if arguments is None else arguments

            async def ask() -> Answer:
                return 1, raw_seen(client.call_tool(tool, arguments, check=False))

            return ask

        contestants: dict[str, Ask] = {
            "this server --watch": our_ask(ours["watch"]),
            RAW_WATCH: raw_ask(raws["watch"]),
            RAW_WATCH_AGAIN: raw_ask(raws["watch"]),
            FLOOR: raw_ask(raws["floor"], "k8s_get_contexts", {}),
            FLOOR_AGAIN: raw_ask(raws["floor"], "k8s_get_contexts", {}),
            "this server on-demand": our_ask(ours["on-demand"]),
            "this server on-demand, raw JSON-RPC": raw_ask(raws["on-demand"]),
        }
        binary, why = peer_binary()
        if binary is None:
            skipped["kubernetes-mcp-server"] = why
        else:
            kubeconfigs = os.pathsep.join(str(fleet.kubeconfig_dir / f"{c}.yaml") for c in fleet.contexts)
            peer_env = {**os.environ, "KUBECONFIG": kubeconfigs}
            params = StdioServerParameters(command=str(binary), args=["--read-only"], env=peer_env)
            peer = await stack.enter_async_context(Client(params, read_timeout_seconds=120))

            async def peer_ask() -> Answer:
                results = [await peer.call_tool("pods_list", {"context": ctx}) for ctx in fleet.contexts]
                return len(fleet.contexts), seen_of(results)

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

            async def kubectl_ask() -> Answer:
                arguments: dict[str, Any] = {"resource_type": "pods", "all_namespaces": True}
                results = [
                    await kubectl_client.call_tool("kubectl_get", {**arguments, "context": ctx})
                    for ctx in fleet.contexts
                ]
                return len(fleet.contexts), seen_of(results)

            contestants["kubectl-mcp-server"] = kubectl_ask
        contestants["original (k8s_get_resources per context)"] = original_way(fleet)
        again = {name: contestants[name] for name in (RAW_WATCH_AGAIN, FLOOR_AGAIN)}
        results: dict[str, Any] = {}
        for scenario, prepare in scenarios.items():
            failing = await anyio.to_thread.run_sync(prepare, [raws[w] for w in WATCHING])
            # The official client's watch server: the same events, waited for the same way.
            while True:
                found = await ours["watch"].call_tool("k8s_fleet_failing_pods", {"limit": 1})
                if (found.structured_content or {}).get("total") == len(failing):
                    break
                await anyio.sleep(0.2)
            measured = await measure(contestants, rounds, failing, before=again)
            question = await anyio.to_thread.run_sync(benchmark_question, raws, failing)
            results[scenario] = {
                "failing": len(failing), "contestants": measured, "ratios": ratios(measured),
                "question": question, "bytes_vs_best_peer": bytes_vs_best_peer(measured, question["views"]),
            }  # fmt: skip
    return {"scenarios": results, "skipped": skipped}


def coverage(text: str, structured: dict[str, Any], failing: list[str]) -> dict[str, dict[str, int]]:
    """How many of the failing pods each view names, and how many it counts (the text's "N failing
    pods" line; the structured `total`, which must equal its sums by reason and by cluster)."""
    heading = re.search(r"^(\d+) failing pods?:", text, re.MULTILINE)
    names = {i["name"] for i in structured.get("items", [])}
    total = structured.get("total", -1)
    consistent = sum(structured.get("by_reason", {}).values()) == sum(
        structured.get("by_context", {}).values()
    )
    return {
        "text": {"named": sum(pod in text for pod in failing), "counted": int(heading[1]) if heading else 0},
        "structured": {"named": len(names & set(failing)), "counted": total if consistent else -1},
    }


def benchmark_question(raws: dict[str, RawClient], failing: list[str]) -> dict[str, Any]:
    """The question a model asks, `k8s_fleet_failing_pods` with its defaults, of both our servers:
    bytes in each view, what each view names and counts, and whether both modes gave the same."""
    answers = {mode: client.call_tool("k8s_fleet_failing_pods", {}) for mode, client in raws.items()}
    watch, on_demand = (answers[m].get("structuredContent") or {} for m in ("watch", "on-demand"))
    same = all(watch.get(k) == on_demand.get(k) for k in ("items", "total", "by_reason", "by_context"))
    return {
        "views": raw_views(answers["watch"]),
        "coverage": coverage(raw_text(answers["watch"]), watch, failing),
        "same_in_both_modes": same,
    }


def bytes_vs_best_peer(results: dict[str, dict[str, Any]], question: Views) -> dict[str, dict[str, Any]]:
    """Per view: the peer sending the fewest bytes, and how many times ours it sends, for the
    benchmark question (`default`) and for the complete list (`complete`, `limit`=1000)."""
    peers = {n: f["views"] for n, f in results.items() if not n.startswith(("this server", "original"))}
    ours = {"default": question, "complete": results[RAW_WATCH]["views"]}
    out: dict[str, dict[str, Any]] = {}
    for asked, mine in ours.items():
        out[asked] = {}
        for view in VIEWS:
            if peers:
                best = min(peers, key=lambda n: peers[n][view])
                out[asked][view] = {"ratio": peers[best][view] / mine[view], "peer": best,
                                    "peer_bytes": peers[best][view], "ours": mine[view]}  # fmt: skip
    return out


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    watch = results["this server --watch"]
    raw = results[RAW_WATCH]
    out = {
        "watch_vs_on_demand_time_ratio": results["this server on-demand"]["p50_ms"] / watch["p50_ms"],
        "raw_watch_vs_on_demand_time_ratio": results["this server on-demand, raw JSON-RPC"]["p50_ms"]
        / raw["p50_ms"],
    }
    for name, figures in results.items():
        if name.startswith("this server"):
            continue
        key = name.split(" ")[0].replace("-", "_")
        out[f"watch_vs_{key}_time_ratio"] = figures["p50_ms"] / watch["p50_ms"]
    return out


def scenarios(fleet: ControlPlaneFleet, pods: int) -> dict[str, Callable[[list[RawClient]], list[str]]]:
    """Steady state (as seeded: 2% failing), then an incident (INCIDENT_SHARE failing)."""

    def steady(watching: list[RawClient]) -> list[str]:
        names = []
        for k in range(len(fleet.contexts)):
            names += seed.realistic_names(seed.steady_failing(pods, first=k * pods))
        for client in watching:
            wait_failing(client, len(names))
        return names

    def incident(watching: list[RawClient]) -> list[str]:
        names = []
        for k, ctx in enumerate(fleet.contexts):
            presets = seed.incident_presets(pods, INCIDENT_SHARE, first=k * pods)
            seed.set_realistic_statuses(fleet.admin(ctx), presets)
            names += seed.realistic_names({**seed.steady_failing(pods, first=k * pods), **presets})
        for client in watching:
            wait_failing(client, len(names))
        return names

    return {"steady": steady, "incident": incident}


def run(pods: int = 2000, rounds: int = 9) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="k8s-bf-", dir="/tmp"))
    fleet = ControlPlaneFleet(workdir)
    try:
        for k, ctx in enumerate(fleet.contexts):
            seed.create_realistic_fleet(fleet.admin(ctx), pods, first=k * pods)
        out = anyio.run(run_contestants, fleet, rounds, scenarios(fleet, pods))
        out.update(clusters=len(fleet.contexts), pods_per_cluster=pods, rounds=rounds, limit=LIMIT)
        return out
    finally:
        fleet.close()
        shutil.rmtree(workdir, ignore_errors=True)


def report(figures: dict[str, Any]) -> None:
    for scenario, part in figures["scenarios"].items():
        print(f"fleet question, {scenario}: {figures['clusters']} clusters x {figures['pods_per_cluster']} realistic pods, "
              f"{part['failing']} failing, {figures['rounds']} interleaved rounds, limit {figures['limit']}")  # fmt: skip
        width = max(len(name) for name in part["contestants"])
        print(f"  {'contestant':<{width}} {'calls':>5} {'p50 ms':>9} {'p90 ms':>9} {'text B':>9} {'struct. B':>9} "
              f"{'both B':>10}  failing pods named")  # fmt: skip
        for name, f in part["contestants"].items():
            v = f["views"]
            print(f"  {name:<{width}} {f['calls']:>5} {f['p50_ms']:>9.1f} {f['p90_ms']:>9.1f} {v['text']:>9,} "
                  f"{v['structured']:>9,} {v['both']:>10,}  {f['named']:,} of {part['failing']:,}")  # fmt: skip
        for key, value in part["ratios"].items():
            print(f"  {key}: {value:.1f}x")
        q, cover = part["question"], part["question"]["coverage"]
        print(f"  the benchmark question (k8s_fleet_failing_pods, defaults): text {q['views']['text']:,} B, "
              f"structured {q['views']['structured']:,} B, both {q['views']['both']:,} B; same in both modes: "
              f"{'yes' if q['same_in_both_modes'] else 'NO'}")  # fmt: skip
        for view, c in cover.items():
            print(
                f"    {view} only: names {c['named']:,}, counts {c['counted']:,} of {part['failing']:,} failing pods"
            )
        for asked, label in (
            ("default", "benchmark question"),
            ("complete", f"complete list, limit {figures['limit']}"),
        ):
            ratio = part["bytes_vs_best_peer"].get(asked, {})
            print(f"  bytes, best peer / ours, {label}: " + "; ".join(
                f"{view} {r['ratio']:.1f}x ({r['peer'].split(' ')[0]} {r['peer_bytes']:,} / {r['ours']:,})"
                for view, r in ratio.items()))  # fmt: skip
    for name, why in figures["skipped"].items():
        print(f"  {name}: skipped: {why}")


def main() -> int:
    quick = "--quick" in sys.argv
    report(run(pods=300 if quick else 2000, rounds=3 if quick else 9))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
