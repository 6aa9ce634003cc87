"""100 contexts: the `--watch` cache and the fleet questions at the scale of a large fleet.

The server sees N distinct clusters (default 100): N kubeconfig contexts, each with its own server
URL, a loopback TCP forwarder per context in front of one of 3 local API servers (context k ->
server k % 3), same CA and credentials as the API server behind it. Every context therefore caches
all of its API server's pods: with P realistic pods per API server (`seed.create_realistic_fleet`:
most Running and Ready, owned by ReplicaSets, 2-3 containers, chart labels, 2% failing in mixed
states) the server caches N x P pods; the figure reported is the count from `k8s_cache_status`.
Seeding and the incident's status patches are not timed.

Measured, with `k8s-multicluster-mcp --watch` over MCP stdio:
- seconds from spawn to every (context, kind) synced (polling `k8s_cache_status`), RSS (and its
  peak) and threads of the server process (from /proc);
- p50/p90 of `k8s_fleet_failing_pods` (default limit) and `k8s_fleet_summary` through a raw
  JSON-RPC client (`bench_fleet.RawClient`: what the server costs) and through the official `mcp`
  Client (one server each, interleaved rounds), in steady state and during an incident (30% of the
  pods failing: statuses patched, both caches waited for);
- on demand (no `--watch`) with the same contexts plus 5 dead (a closed port) and 2 hung (a
  `hostile.Blackhole` each) contexts: the time of one `k8s_fleet_failing_pods` against
  `--request-timeout`, how many contexts answered, and whether the dead and hung ones are named as
  not answering.

    .venv/bin/python -m benchmarks.bench_scale [--quick] [--contexts N] [--pods P] [--output FILE.json]
        [--profile DIR]   (py-spy, if installed: the watch server during extra steady-state rounds)
"""

# ruff: noqa: E501  (report lines are tables, kept whole)
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import yaml
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from benchmarks.bench_fleet import SCRIPT, RawClient, end_child, raw_text, wait_failing
from integration import controlplane, hostile, seed

SERVERS = 3
INCIDENT_SHARE = 0.3
REQUEST_TIMEOUT = 5.0
DEAD, HUNG = 5, 2
_T0 = time.monotonic()


def say(message: str) -> None:
    """Progress, on stderr, with the seconds since the benchmark started."""
    print(f"  [{time.monotonic() - _T0:5.0f} s] {message}", file=sys.stderr, flush=True)


# -- the forwarders ----------------------------------------------------------------------------
# Plain asyncio streams in a process of their own: about 30 lines, no dependency for a benchmark
# (socat or haproxy would be a system package the machine may not have, and a Python proxy
# library adds nothing over the standard library here), and one thread for all N listeners, so
# the forwarders neither add N threads to the measuring process nor share its GIL. TLS passes
# through untouched: the API server's certificate names 127.0.0.1, whatever the port.


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 18):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def _forward(upstreams: list[int]) -> None:
    def handler(port: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                writer.close()
                return
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

        return handle

    servers = [await asyncio.start_server(handler(p), "127.0.0.1", 0, backlog=1024) for p in upstreams]
    print(json.dumps([s.sockets[0].getsockname()[1] for s in servers]), flush=True)
    # Until the benchmark closes our stdin (or dies): a forwarder never outlives it.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)


class Forwarders:
    """One loopback listener per upstream port, in a child process; `ports[i]` forwards to
    `upstreams[i]`."""

    def __init__(self, upstreams: list[int]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_scale", "forward", *map(str, upstreams)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.ports: list[int] = json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        end_child(self.proc)


# -- kubeconfigs -------------------------------------------------------------------------------


def write_kubeconfig(path: Path, workdir: Path, contexts: list[str], ports: list[int], token: str) -> None:
    """One file, one context per forwarder: its own cluster entry and server URL, the fleet's CA,
    the admin token."""
    ca = base64.b64encode((workdir / "certs" / "ca.crt").read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": c, "cluster": {"server": f"https://127.0.0.1:{p}", "certificate-authority-data": ca}}
            for c, p in zip(contexts, ports, strict=True)
        ],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": c, "context": {"cluster": c, "user": "admin"}} for c in contexts],
        "current-context": contexts[0],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the server process ------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """RSS, peak RSS (bytes) and threads of a process, from /proc/PID/status."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
        elif key == "Threads":
            fields[key] = int(value)
    return {"rss": fields["VmRSS"], "peak_rss": fields["VmHWM"], "threads": fields["Threads"]}


def cached(client: RawClient) -> dict[str, Any]:
    """What the watch cache holds, from `k8s_cache_status`: objects per kind, entries synced."""
    entries = (client.call_tool("k8s_cache_status", {}).get("structuredContent") or {}).get("entries", [])
    objects: dict[str, int] = {}
    for e in entries:
        objects[e["kind"]] = objects.get(e["kind"], 0) + e["objects"]
    return {"entries": len(entries), "synced": sum(e["synced"] for e in entries), "objects": objects}


def sync(argv: list[str], env: dict[str, str], poll: float) -> tuple[RawClient, dict[str, Any]]:
    """Spawn the watch server and time it to every (context, kind) synced; RSS sampled meanwhile."""
    started = time.monotonic()
    client = RawClient(argv, env)
    initialized = time.monotonic() - started
    peak = 0
    while True:
        status = client.call_tool("k8s_cache_status", {}).get("structuredContent") or {}
        peak = max(peak, proc_status(client.pid)["rss"])
        entries = status.get("entries") or []
        if entries and all(e["synced"] for e in entries):
            break
        if time.monotonic() - started > 900:
            raise TimeoutError("the watch cache did not sync within 900 s")
        time.sleep(poll)
    return client, {
        "initialize_s": initialized,
        "synced_s": time.monotonic() - started,
        "rss_while_syncing": peak,
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


QUESTIONS = {"failing_pods": ("k8s_fleet_failing_pods", {}), "summary": ("k8s_fleet_summary", {})}


async def measure(raw: RawClient, official: Client, rounds: int) -> dict[str, Any]:
    """p50/p90 (ms) and bytes of each question through each client, interleaved."""
    times: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for _ in range(rounds):
        for question, (tool, arguments) in QUESTIONS.items():
            started = time.perf_counter()
            result = raw.call_tool(tool, arguments)
            times.setdefault(f"{question}_raw", []).append(time.perf_counter() - started)
            sizes[question] = len(json.dumps(result, separators=(",", ":")))
            started = time.perf_counter()
            answer = await official.call_tool(tool, arguments)
            times.setdefault(f"{question}_official", []).append(time.perf_counter() - started)
            if answer.is_error:
                raise RuntimeError(f"{tool}: {answer.content}")
    out: dict[str, Any] = {}
    for key, values in times.items():
        out[key] = {"p50_ms": statistics.median(values) * 1000, "p90_ms": percentile(values, 0.9) * 1000}
    out["result_bytes"] = sizes
    return out


def profile(pid: int, seconds: float, where: Path | None) -> subprocess.Popen[bytes] | None:
    """py-spy recording the server (if installed and asked for); the caller waits for it."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if where is None or not Path(spy).exists():
        return None
    where.mkdir(parents=True, exist_ok=True)
    out = where / f"scale-watch-{pid}.txt"
    args = [spy, "record", "--nonblocking", "-p", str(pid), "-d", str(int(seconds)), "-r", "100"]
    args += ["-f", "raw", "-o", str(out)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- the benchmark -----------------------------------------------------------------------------


def expected_failing(contexts: int, pods: int, presets: Callable[[int], dict[int, str]]) -> int:
    """Failing pods the fleet counts: each context counts its API server's."""
    return sum(len(presets(k % SERVERS)) for k in range(contexts))


async def watch_part(
    fleet: Any, kubeconfig_dir: Path, n: int, pods: int, rounds: int, profile_dir: Path | None
) -> dict[str, Any]:
    env = {**os.environ, "KUBECONFIG_DIR": str(kubeconfig_dir)}
    env.pop("KUBECONFIG", None)
    argv = [str(SCRIPT), "--watch", "--request-timeout", str(REQUEST_TIMEOUT)]
    out: dict[str, Any] = {}
    say(f"spawning the --watch server over {n} contexts")
    raw, out["start"] = sync(argv, env, poll=0.5)
    try:
        out["synced"] = proc_status(raw.pid)
        out["cache"] = cached(raw)
        say(f"synced in {out['start']['synced_s']:.1f} s: {out['cache']}")
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=env)
        async with Client(params, read_timeout_seconds=600) as official:
            while True:  # the official client's server: its own cache, synced the same way
                status = (await official.call_tool("k8s_cache_status", {})).structured_content or {}
                if status.get("entries") and all(e["synced"] for e in status["entries"]):
                    break
                await anyio.sleep(0.5)

            def steady(k: int) -> dict[int, str]:
                return seed.steady_failing(pods, first=k * pods)

            def incident(k: int) -> dict[int, str]:
                return {**steady(k), **seed.incident_presets(pods, INCIDENT_SHARE, first=k * pods)}

            for scenario, presets in (("steady", steady), ("incident", incident)):
                if scenario == "incident":
                    for k in range(SERVERS):
                        seed.set_realistic_statuses(fleet.admin(f"cp-{k + 1}"), incident(k))
                want = expected_failing(n, pods, presets)
                started = time.monotonic()
                wait_failing(raw, want, timeout=600)
                while True:
                    counted = await official.call_tool("k8s_fleet_failing_pods", {"limit": 1})
                    if (counted.structured_content or {}).get("total") == want:
                        break
                    await anyio.sleep(0.5)
                say(f"{scenario}: {want:,} failing pods counted by both servers")
                figures = await measure(raw, official, rounds)
                spy = profile(raw.pid, 30, profile_dir) if scenario == "steady" else None
                if spy is not None:  # more rounds, not reported: the profiler's own cost stays out
                    await measure(raw, official, rounds)
                    spy.wait()
                figures.update(
                    failing=want, caught_up_s=time.monotonic() - started, server=proc_status(raw.pid)
                )
                out[scenario] = figures
    finally:
        raw.close()
    return out


def on_demand_part(fleet_kubeconfig: Path, workdir: Path, tries: int) -> dict[str, Any]:
    """The same contexts without --watch, plus DEAD dead and HUNG hung ones."""
    directory = workdir / "kc-od"
    directory.mkdir()
    shutil.copy(fleet_kubeconfig, directory / "fleet.yaml")
    hung = [hostile.Blackhole() for _ in range(HUNG)]
    try:
        dead_names = [f"dead-{i}" for i in range(DEAD)]
        hung_names = [f"hung-{i}" for i in range(HUNG)]
        for name in dead_names:
            hostile.kubeconfig(directory, name, f"https://127.0.0.1:{closed_port()}")
        for name, server in zip(hung_names, hung, strict=True):
            hostile.kubeconfig(directory, name, server.url)
        env = {**os.environ, "KUBECONFIG_DIR": str(directory), "K8S_MCP_CACHE_TTL": "0"}
        env.pop("KUBECONFIG", None)
        client = RawClient([str(SCRIPT), "--request-timeout", str(REQUEST_TIMEOUT)], env)
        try:
            # Untimed: a server's first question loads the kubernetes client (bench_startup's part).
            client.call_tool("k8s_fleet_failing_pods", {"context": dead_names[0]}, check=False)
            times, answers = [], []
            for _ in range(tries):
                started = time.perf_counter()
                result = client.call_tool("k8s_fleet_failing_pods", {}, check=False)
                times.append(time.perf_counter() - started)
                answers.append(result)
                if len(answers) < tries:
                    time.sleep(REQUEST_TIMEOUT)  # lists cut by the deadline end before the next try
        finally:
            client.close()
        last = answers[-1]
        clusters = (last.get("structuredContent") or {}).get("clusters", [])
        status = {c["context"]: c["status"] for c in clusters}
        text = raw_text(last)
        bad = dead_names + hung_names
        return {
            "contexts": len(clusters),
            "answered": sum(s == "ok" for s in status.values()),
            "statuses": {s: sum(v == s for v in status.values()) for s in sorted(set(status.values()))},
            # Every context is in the structured answer with its status; the text names the first
            # few of a long list of clusters that did not answer and counts the rest.
            "dead_and_hung_named": all(status.get(n, "ok") != "ok" for n in bad),
            "dead_and_hung_in_text": [n for n in bad if n in text],
            "dead_and_hung_status": {n: status.get(n) for n in bad},
            "seconds": times,
            "p50_s": statistics.median(times),
            "request_timeout": REQUEST_TIMEOUT,
        }
    finally:
        for server in hung:
            server.close()


def run(
    contexts: int = 100, pods: int = 2000, rounds: int = 15, tries: int = 3, profile_dir: Path | None = None
) -> dict[str, Any]:
    global _T0
    _T0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="k8s-bs-", dir="/tmp"))
    forwarders: Forwarders | None = None
    try:
        say(f"{SERVERS} API servers, {pods} realistic pods each (seeding is not timed)")
        state = controlplane.up(workdir, SERVERS)
        say("API servers up")
        from integration.backends import client_for

        class _Admin:
            def __init__(self) -> None:
                self.clients = {
                    c.name: client_for(Path(c.kubeconfig), c.admin_context) for c in state.clusters
                }

            def admin(self, name: str) -> Any:
                return self.clients[name]

        fleet = _Admin()
        seeded_at = time.monotonic()
        for k in range(SERVERS):
            seed.create_realistic_fleet(fleet.admin(f"cp-{k + 1}"), pods, first=k * pods)
        seeding = time.monotonic() - seeded_at
        say(f"seeded in {seeding:.0f} s")
        names = [f"ctx-{k:03d}" for k in range(contexts)]
        forwarders = Forwarders([state.clusters[k % SERVERS].port for k in range(contexts)])
        kubeconfig = workdir / "kc" / "fleet.yaml"
        write_kubeconfig(kubeconfig, workdir, names, forwarders.ports, state.admin_token)
        out: dict[str, Any] = {
            "contexts": contexts, "api_servers": SERVERS, "pods_per_server": pods, "rounds": rounds,
            "seeding_s": seeding, "request_timeout": REQUEST_TIMEOUT,
        }  # fmt: skip
        out["watch"] = anyio.run(watch_part, fleet, kubeconfig.parent, contexts, pods, rounds, profile_dir)
        # The incident is over before on demand is asked: pods back to the steady state.
        for k in range(SERVERS):
            presets = seed.incident_presets(pods, INCIDENT_SHARE, first=k * pods)
            seed.set_realistic_statuses(fleet.admin(f"cp-{k + 1}"), dict.fromkeys(presets, "running"))
        say(f"on demand: {contexts} contexts + {DEAD} dead + {HUNG} hung")
        out["on_demand"] = on_demand_part(kubeconfig, workdir, tries)
        for client in fleet.clients.values():
            client.close()
        return out
    finally:
        if forwarders is not None:
            forwarders.close()
        controlplane.down(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def report(f: dict[str, Any]) -> None:
    w = f["watch"]
    cache = w["cache"]
    mb = 1 << 20
    print(f"{f['contexts']} contexts over {f['api_servers']} API servers x {f['pods_per_server']:,} realistic pods "
          f"(seeded in {f['seeding_s']:.0f} s, not timed)")  # fmt: skip
    print(f"  --watch: initialize {w['start']['initialize_s']:.1f} s, every (context, kind) synced "
          f"{w['start']['synced_s']:.1f} s after spawn; cached {cache['objects']} in {cache['entries']} entries")  # fmt: skip
    s = w["synced"]
    print(
        f"  server at sync: RSS {s['rss'] / mb:,.0f} MB (peak {s['peak_rss'] / mb:,.0f} MB), {s['threads']} threads"
    )
    print(f"  {'scenario':<9} {'failing':>8} {'question':<13} {'raw p50':>8} {'p90':>8} {'official p50':>13} {'p90':>8} {'bytes':>10}")  # fmt: skip
    for scenario in ("steady", "incident"):
        part = w[scenario]
        for q in QUESTIONS:
            r, o = part[f"{q}_raw"], part[f"{q}_official"]
            print(f"  {scenario:<9} {part['failing']:>8,} {q:<13} {r['p50_ms']:>8.1f} {r['p90_ms']:>8.1f} "
                  f"{o['p50_ms']:>13.1f} {o['p90_ms']:>8.1f} {part['result_bytes'][q]:>10,}")  # fmt: skip
    i = w["incident"]
    print(f"  incident: both caches counted it {i['caught_up_s']:.1f} s after the patches; "
          f"server RSS {i['server']['rss'] / mb:,.0f} MB (peak {i['server']['peak_rss'] / mb:,.0f} MB), {i['server']['threads']} threads")  # fmt: skip
    od = f["on_demand"]
    print(f"  on demand, {DEAD} dead + {HUNG} hung more: k8s_fleet_failing_pods in "
          f"{', '.join(f'{t:.2f}' for t in od['seconds'])} s (--request-timeout {od['request_timeout']:g}); "
          f"{od['answered']} of {od['contexts']} contexts answered {od['statuses']}; dead and hung named as not "
          f"answering: {'yes' if od['dead_and_hung_named'] else 'NO ' + str(od['dead_and_hung_status'])}")  # fmt: skip


def main(argv: list[str]) -> int:
    if argv[:1] == ["forward"]:
        asyncio.run(_forward([int(p) for p in argv[1:]]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_scale", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 contexts x 100 pods, 5 rounds")
    parser.add_argument("--contexts", type=int)
    parser.add_argument("--pods", type=int, help="realistic pods per API server")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--profile", type=Path, help="directory for a py-spy recording of the watch server")
    args = parser.parse_args(argv)
    figures = run(
        contexts=args.contexts or (10 if args.quick else 100),
        pods=args.pods or (100 if args.quick else 2000),
        rounds=args.rounds or (5 if args.quick else 15),
        tries=1 if args.quick else 3,
        profile_dir=args.profile,
    )
    report(figures)
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
