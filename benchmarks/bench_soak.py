"""Soak: the `--watch` cache under steady churn, API server restarts and an etcd compaction.

Ten contexts on five local API servers (`cp-N`, the admin context, watching every namespace; and
`cp-N-viewer`, which may read pods and deployments in `team-a` only, so its watches are scoped to
that namespace and nodes are forbidden). The console script runs with `--watch` as a child over
MCP stdio. After its cache synced and a warm-up under churn (the full run's lasts until the
server's change journal holds its JOURNAL_SIZE entries, so RSS growth is measured once every
bounded structure is full; the quick run's is 15 s), the run:

- writes at a steady rate (50 writes/s in all by default): pods created, deleted and
  status-changed through the status subresource (as a kubelet would) in three namespaces, plus a
  few deployment and node status changes; with real nodes (`--nodes M`), rolling restarts of
  real Deployments instead of seeded deployment and node status;
- stops and starts API servers (three in the full run, spread over it; a few seconds down each,
  and while one is down two of its pods are deleted from etcd behind its back, so only a relist
  can notice) and compacts etcd once;
- samples the server every few seconds (RSS, threads, sockets and the API server connections
  they are, child processes, CPU) and asks it a fleet question and its cache status;
- then stops the churn, waits for the cache to settle and compares, for every context and kind,
  the cached set of (namespace, name, uid, resourceVersion), each read from the server over MCP
  (`k8s_get_resources` for the names, `k8s_get_resource` for each object's uid and
  resourceVersion, answered from the cache), with a fresh LIST made with the context's own
  credentials.

Exit status 1 if the cache differs from the fresh LIST (a correctness failure); every other
figure (RSS growth, threads, sockets, children, writes/s) is reported, not asserted.

`python -m benchmarks.bench_soak [--quick] [--duration S] [--warmup S] [--rate N] [--nodes M] [--seed N]
[--output F.json]`; the report goes to stdout, the progress log to stderr. No process or directory is
left behind (the control plane goes down, its workdir `/tmp/k8s-soak-*` is removed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api
from kubernetes.client.exceptions import ApiException
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from integration import controlplane, seed
from integration.backends import ControlPlaneFleet, client_for
from k8s_multicluster_mcp.model.changes import JOURNAL_SIZE

log = logging.getLogger("bench_soak")

SCRIPT = Path(sys.executable).with_name("k8s-multicluster-mcp")
CLUSTERS = 5
NAMESPACES = (controlplane.VIEWER_NAMESPACE, "soak-a", "soak-b")
KINDS = ("pods", "deployments", "nodes")
DEPLOYMENTS = ("web", "api", "worker")
STATUS_PRESETS = (
    "running",
    "running",
    "running",
    "not_ready",
    "crashloop",
    "restarting",
    "image_pull_backoff",
    "oom_killed",
    "pending",
    "error",
    "succeeded",
    "evicted",
)


@dataclass
class Plan:
    duration: float
    """Seconds of churn after the warm-up."""
    warmup: float
    rate: float
    """API writes per second, in all."""
    pods: int
    """Pods per cluster the churn keeps around (created and deleted about equally)."""
    restarts: int
    downtime: float
    nodes: int
    sample_every: float
    settle_timeout: float
    roll_every: float
    """Seconds between rolling restarts of a Deployment (real nodes only)."""
    fill_journal: bool
    """Warm up until the change journal is full too (at least `warmup` seconds, at most
    `warmup_limit`): RSS growth is then measured once every bounded structure is full."""
    warmup_limit: float
    quick: bool = False

    @classmethod
    def make(
        cls,
        quick: bool = False,
        duration: float | None = None,
        rate: float | None = None,
        nodes: int = 0,
        warmup: float | None = None,
    ) -> Plan:
        """The full run (an hour at 50 writes/s, 3 restarts, after a warm-up that fills the change
        journal) or `quick`, CI's smoke (60 s at 20/s, 1 restart, 15 s of warm-up: the journal is
        far from full); `duration`, `rate` and `warmup` override, None keeps the default."""
        chosen = dict(QUICK if quick else FULL, nodes=nodes, quick=quick)
        given = {"duration": duration, "rate": rate, "warmup": warmup}
        return cls(**(chosen | {k: v for k, v in given.items() if v is not None}))


FULL: dict[str, Any] = {
    "duration": 3600, "warmup": 120, "rate": 50, "pods": 200, "restarts": 3, "downtime": 5,
    "sample_every": 10, "settle_timeout": 300, "roll_every": 60, "fill_journal": True, "warmup_limit": 1800,
}  # fmt: skip
QUICK: dict[str, Any] = FULL | {
    "duration": 60, "warmup": 15, "rate": 20, "pods": 60, "restarts": 1, "downtime": 3,
    "sample_every": 5, "settle_timeout": 120, "roll_every": 20, "fill_journal": False,
}  # fmt: skip


# -- the server process ---------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def server_pid() -> int:
    """Our child running the console script (spawned by the MCP stdio client)."""
    for pid in _children().get(os.getpid(), []):
        try:
            args = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(Path(a.decode(errors="replace")).name == SCRIPT.name for a in args if a):
            return pid
    raise RuntimeError("the server process was not found among this process's children")


def exited(pid: int) -> bool:
    return not (Path("/proc") / str(pid)).exists()


def _tcp_sockets() -> dict[str, tuple[int, str]]:
    """inode -> (remote port, state) of every TCP socket on the machine."""
    out: dict[str, tuple[int, str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                out[fields[9]] = (int(fields[2].rsplit(":", 1)[1], 16), fields[3])
    return out


def sample(pid: int, ports: dict[int, str]) -> dict[str, Any]:
    """RSS, threads, descriptors, sockets (established connections per API server) and children."""
    proc = Path("/proc") / str(pid)
    status = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line)
    stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    sockets: list[str] = []
    fds = 0
    for fd in (proc / "fd").iterdir():
        fds += 1
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                sockets.append(target[8:-1])
    tcp = _tcp_sockets()
    per_server: Counter[str] = Counter()
    other_tcp = 0
    for inode in sockets:
        if inode in tcp:
            port, state = tcp[inode]
            if port in ports and state == "01":  # ESTABLISHED
                per_server[ports[port]] += 1
            else:
                other_tcp += 1
    tree, descendants, todo = _children(), [], [pid]
    while todo:
        kids = tree.get(todo.pop(), [])
        descendants += kids
        todo += kids
    return {
        "at": time.time(),
        "rss_kb": int(status["VmRSS"].split()[0]),
        "threads": int(status["Threads"]),
        "fds": fds,
        "sockets": len(sockets),
        "api_connections": dict(sorted(per_server.items())),
        "other_tcp": other_tcp,
        "children": len(descendants),
        "cpu_s": (int(stat[11]) + int(stat[12])) / ticks,
    }


# -- churn ----------------------------------------------------------------------------------------


@dataclass
class Churn:
    """Writes at a steady rate from a few threads: pods created, deleted and status-changed, a
    few deployment and node status changes (seeded fleets) and rolling restarts (real nodes)."""

    fleet: ControlPlaneFleet
    plan: Plan
    rng: random.Random
    known: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    done: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    late: int = 0
    viewer_writes: int = 0
    """Writes in the viewer contexts' namespace: their caches receive those events too."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _inflight: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(64))
    _threads: list[threading.Thread] = field(default_factory=list)
    _queue: list[tuple[str, str]] = field(default_factory=list)
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _seq: int = 0
    started: float = 0.0
    stopped: float = 0.0

    def __post_init__(self) -> None:
        self.known = {ctx: [] for ctx in self.fleet.contexts}

    def seed(self) -> None:
        """Namespaces, deployments, fake nodes (no real nodes) and `plan.pods` pods per cluster."""
        from concurrent.futures import ThreadPoolExecutor

        for ctx in self.fleet.contexts:
            api = self.fleet.admin(ctx)
            for ns in NAMESPACES[1:]:
                seed.create_namespace(api, ns)
            for index, name in enumerate(DEPLOYMENTS):
                ns = NAMESPACES[index % 2]
                if self.plan.nodes:
                    seed.create_deployment(api, ns, name, image=controlplane.WORKLOAD_IMAGE, replicas=1)
                else:
                    seed.create_deployment(api, ns, name, replicas=2)
            if not self.plan.nodes:
                for index in range(2):
                    seed.create_node(api, f"{ctx}-fake-{index}")
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda job: self._create(job[0]),
                    [(c, i) for c in self.fleet.contexts for i in range(self.plan.pods)],
                )
            )
        self.done.clear()
        self.viewer_writes = 0

    # -- operations (each one API write; `_preload_content=False`: no decoding of the answer)

    def _api(self, ctx: str) -> ApiClient:
        return self.fleet.admin(ctx)

    def _create(self, ctx: str) -> None:
        with self._lock:
            self._seq += 1
            seq = self._seq
        ns = NAMESPACES[seq % len(NAMESPACES)]
        name = f"churn-{seq:07d}"
        body = {
            "metadata": {"name": name, "labels": {"app": f"churn-{seq % 10}", "soak": "churn"}},
            "spec": {
                "containers": [{"name": "app", "image": "nginx:1.27"}],
                "schedulingGates": [{"name": "k8s-multicluster-mcp.test/seeded"}],
            },
        }
        CoreV1Api(self._api(ctx)).create_namespaced_pod(ns, body, _preload_content=False, _request_timeout=10)
        with self._lock:
            self.known[ctx].append((ns, name))
        self.done["create"] += 1
        self.viewer_writes += ns == controlplane.VIEWER_NAMESPACE

    def _pick(self, ctx: str, remove: bool) -> tuple[str, str] | None:
        with self._lock:
            pods = self.known[ctx]
            if not pods:
                return None
            index = self.rng.randrange(len(pods))
            if remove:
                pods[index], pods[-1] = pods[-1], pods[index]
                return pods.pop()
            return pods[index]

    def _forget(self, ctx: str, pod: tuple[str, str]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self.known[ctx].remove(pod)

    def _delete(self, ctx: str) -> None:
        pod = self._pick(ctx, remove=True)
        if pod is None:
            return self._create(ctx)
        try:
            CoreV1Api(self._api(ctx)).delete_namespaced_pod(
                pod[1], pod[0], grace_period_seconds=0, _preload_content=False, _request_timeout=10
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
        self.done["delete"] += 1
        self.viewer_writes += pod[0] == controlplane.VIEWER_NAMESPACE
        return None

    def _status(self, ctx: str) -> None:
        pod = self._pick(ctx, remove=False)
        if pod is None:
            return self._create(ctx)
        body = {"status": seed.pod_status(self.rng.choice(STATUS_PRESETS), restarts=self.rng.randrange(12))}
        try:
            CoreV1Api(self._api(ctx)).patch_namespaced_pod_status(
                pod[1], pod[0], body, _preload_content=False, _request_timeout=10
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            self._forget(ctx, pod)
        self.done["pod status"] += 1
        self.viewer_writes += pod[0] == controlplane.VIEWER_NAMESPACE
        return None

    def _deployment_status(self, ctx: str) -> None:
        index = self.rng.randrange(len(DEPLOYMENTS))
        ready = self.rng.randrange(3)
        status = {
            "observedGeneration": 1,
            "replicas": 2,
            "updatedReplicas": 2,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": 2 - ready,
        }
        AppsV1Api(self._api(ctx)).patch_namespaced_deployment_status(
            DEPLOYMENTS[index],
            NAMESPACES[index % 2],
            {"status": status},
            _preload_content=False,
            _request_timeout=10,
        )
        self.done["deployment status"] += 1
        self.viewer_writes += index % 2 == 0

    def _node_status(self, ctx: str) -> None:
        ready = self.rng.random() < 0.8
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        condition = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "lastHeartbeatTime": now,
            "reason": "KubeletReady" if ready else "KubeletNotReady",
        }
        CoreV1Api(self._api(ctx)).patch_node_status(
            f"{ctx}-fake-{self.rng.randrange(2)}",
            {"status": {"conditions": [condition]}},
            _preload_content=False,
            _request_timeout=10,
        )
        self.done["node status"] += 1

    def roll(self, ctx: str, index: int) -> None:
        """A rolling restart, as `kubectl rollout restart` does it."""
        now = datetime.now(timezone.utc).isoformat()
        template = {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}
        AppsV1Api(self._api(ctx)).patch_namespaced_deployment(
            DEPLOYMENTS[index],
            NAMESPACES[index % 2],
            {"spec": {"template": template}},
            _preload_content=False,
            _request_timeout=10,
        )
        self.done["rolling restart"] += 1

    def _one(self) -> tuple[str, str] | None:
        """The next operation: a cluster that is up, and what to do there."""
        with self._lock:
            up = [c for c in self.fleet.contexts if c not in self.down]
            if not up:
                return None
            ctx = self.rng.choice(up)
            population = len(self.known[ctx])
        r = self.rng.random()
        if r < 0.5:
            create = self.rng.random() < min(
                0.9, max(0.1, 0.5 + (self.plan.pods - population) / self.plan.pods)
            )
            return ctx, "create" if create else "delete"
        if r < 0.92 or self.plan.nodes:
            return ctx, "pod status"
        return ctx, "deployment status" if r < 0.96 else "node status"

    # -- threads

    def start(self) -> None:
        self.started = time.monotonic()
        for index in range(16):
            thread = threading.Thread(target=self._work, name=f"soak-churn-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        ticker = threading.Thread(target=self._tick, name="soak-churn-ticker", daemon=True)
        ticker.start()
        self._threads.append(ticker)

    def _tick(self) -> None:
        interval, due = 1.0 / self.plan.rate, time.monotonic()
        while not self._stop.is_set():
            due += interval
            delay = due - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -1.0:  # more than a second behind: do not burst to catch up
                self.late += int(-delay / interval)
                due = time.monotonic()
            op = self._one()
            if op is None:
                continue
            if not self._inflight.acquire(blocking=False):
                self.late += 1
                continue
            with self._wake:
                self._queue.append(op)
                self._wake.notify()

    def _work(self) -> None:
        actions = {
            "create": self._create,
            "delete": self._delete,
            "pod status": self._status,
            "deployment status": self._deployment_status,
            "node status": self._node_status,
        }
        while True:
            with self._wake:
                while not self._queue and not self._stop.is_set():
                    self._wake.wait(0.5)
                if not self._queue:
                    return
                ctx, what = self._queue.pop(0)
            try:
                if ctx not in self.down:
                    actions[what](ctx)
            except Exception as exc:
                self.failed[what] += 1
                reason = getattr(exc, "status", None) or type(exc).__name__
                self.errors[f"{what}: {reason}"] += 1
                log.debug("%s on %s failed: %s", what, ctx, exc)
            finally:
                self._inflight.release()

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(30)
        self.stopped = time.monotonic()

    def pause(self, ctx: str) -> None:
        """No more writes to `ctx` (its API server is about to stop)."""
        with self._lock:
            self.down.add(ctx)

    def resume(self, ctx: str) -> None:
        with self._lock:
            self.down.discard(ctx)

    def behind_the_server(self, ctx: str, count: int) -> int:
        """Delete `count` of the cluster's pods straight from etcd (its API server is down)."""
        deleted = 0
        for _ in range(count):
            pod = self._pick(ctx, remove=True)
            if pod is None:
                break
            try:
                self.fleet.delete_behind_the_server(ctx, "pods", pod[0], pod[1])
                deleted += 1
            except AssertionError:  # a delete in flight when the server went down took it
                pass
        return deleted


# -- the comparison -------------------------------------------------------------------------------

Key = tuple[str, str]
Objects = dict[Key, tuple[str, str]]
"""(namespace, name) -> (uid, resourceVersion)."""


def fresh_list(api: ApiClient, kind: str, namespace: str | None) -> Objects | str:
    """A fresh LIST (every page), or the HTTP status that refused it."""
    core, apps = CoreV1Api(api), AppsV1Api(api)
    calls: dict[str, Any] = {
        "pods": (lambda **kw: core.list_namespaced_pod(namespace, **kw))
        if namespace
        else core.list_pod_for_all_namespaces,
        "deployments": (lambda **kw: apps.list_namespaced_deployment(namespace, **kw))
        if namespace
        else apps.list_deployment_for_all_namespaces,
        "nodes": core.list_node,
    }
    out: Objects = {}
    token = None
    while True:
        try:
            answer = calls[kind](limit=500, _continue=token, _preload_content=False, _request_timeout=30)
        except ApiException as exc:
            return f"HTTP {exc.status}"
        body = json.loads(answer.data)
        for item in body.get("items") or ():
            meta = item["metadata"]
            out[(meta.get("namespace", ""), meta["name"])] = (meta["uid"], meta["resourceVersion"])
        token = (body.get("metadata") or {}).get("continue")
        if not token:
            return out


class Mismatch(Exception):
    pass


async def cached(client: Client, ctx: str, kind: str, namespace: str | None) -> Objects:
    """What the server's cache holds for (ctx, kind): names from one list, then each object's
    uid and resourceVersion; raises Mismatch where an answer did not come from the cache."""
    args: dict[str, Any] = {"kind": kind, "context": ctx, "limit": 1000}
    if namespace:
        args["namespace"] = namespace
    listed = (await client.call_tool("k8s_get_resources", args)).structured_content or {}
    sources = {(c.get("status"), c.get("source")) for c in listed.get("clusters", [])}
    if sources != {("ok", "cache")}:
        raise Mismatch(f"{ctx}/{kind} answered {sorted(map(str, sources))}, not from the cache")
    if listed["total"] > listed["shown"]:
        raise Mismatch(f"{ctx}/{kind}: {listed['total']} objects, more than one answer shows")
    out: Objects = {}
    for item in listed["items"]:
        key = (item.get("namespace", ""), item["name"])
        get = {"kind": kind, "name": item["name"], "context": ctx}
        if key[0]:
            get["namespace"] = key[0]
        got = await client.call_tool("k8s_get_resource", get)
        found = (got.structured_content or {}).get("objects") or []
        clusters = (got.structured_content or {}).get("clusters") or [{}]
        if got.is_error or len(found) != 1 or clusters[0].get("source") != "cache":
            out[key] = ("?", f"get failed: {(got.content[0].text if got.content else '')[:200]}")  # type: ignore[union-attr]
            continue
        out[key] = (str(found[0].get("uid")), str(found[0].get("resource_version")))
    return out


def differences(live: Objects, cache: Objects) -> dict[str, list[str]]:
    diff: dict[str, list[str]] = {}
    missing = sorted(set(live) - set(cache))
    extra = sorted(set(cache) - set(live))
    stale = sorted(k for k in set(live) & set(cache) if live[k] != cache[k])
    if missing:
        diff["missing from the cache"] = [f"{ns}/{n}" for ns, n in missing]
    if extra:
        diff["in the cache, gone from the server"] = [f"{ns}/{n}" for ns, n in extra]
    if stale:
        diff["other uid or resourceVersion"] = [
            f"{ns}/{n}: cache {cache[(ns, n)]} vs LIST {live[(ns, n)]}" for ns, n in stale
        ]
    return diff


async def compare(client: Client, fleet: ControlPlaneFleet) -> dict[str, Any]:
    """One round: fresh LIST, the cache, fresh LIST again; (ctx, kind) -> verdict."""
    out: dict[str, Any] = {}
    for ctx in fleet.contexts:
        for viewer in (False, True):
            name = fleet.viewer(ctx) if viewer else ctx
            api = viewer_client(fleet, ctx) if viewer else fleet.admin(ctx)
            namespace = controlplane.VIEWER_NAMESPACE if viewer else None
            for kind in KINDS:
                before = await anyio.to_thread.run_sync(fresh_list, api, kind, namespace)
                entry: dict[str, Any] = {"live": len(before) if isinstance(before, dict) else before}
                if isinstance(before, str):
                    status = await cache_entries(client, name)
                    forbidden = status.get(kind, {}).get("forbidden")
                    entry.update(cache="forbidden" if forbidden else "not forbidden", equal=bool(forbidden))
                    out[f"{name}/{kind}"] = entry
                    continue
                try:
                    mine = await cached(client, name, kind, namespace)
                except Mismatch as exc:
                    entry.update(cache=str(exc), equal=False)
                    out[f"{name}/{kind}"] = entry
                    continue
                after = await anyio.to_thread.run_sync(fresh_list, api, kind, namespace)
                entry.update(cache=len(mine), moved=after != before)
                diff = differences(after if isinstance(after, dict) else before, mine)
                entry["equal"] = not diff
                if diff:
                    entry["differences"] = {
                        k: v[:20] + ([f"... {len(v) - 20} more"] if len(v) > 20 else [])
                        for k, v in diff.items()
                    }
                out[f"{name}/{kind}"] = entry
    return out


_VIEWERS: dict[str, ApiClient] = {}


def viewer_client(fleet: ControlPlaneFleet, ctx: str) -> ApiClient:
    if ctx not in _VIEWERS:
        _VIEWERS[ctx] = client_for(fleet.kubeconfig_dir / f"{ctx}.yaml", fleet.viewer(ctx))
    return _VIEWERS[ctx]


async def cache_entries(client: Client, context: str | None = None) -> dict[str, Any]:
    """k8s_cache_status: kind -> entry for one context, or "ctx/kind" -> entry for all."""
    status = (
        await client.call_tool("k8s_cache_status", {"context": context} if context else {})
    ).structured_content
    entries = (status or {}).get("entries", [])
    if context:
        return {e["kind"]: e for e in entries if e["context"] == context}
    return {f"{e['context']}/{e['kind']}": e for e in entries}


async def journal_entries(client: Client, contexts: list[str]) -> int | None:
    """How many changes the server's journal holds: the `k8s_fleet_recent_changes` totals of each
    context asked by name (a fleet-wide answer counts one context per cluster, so an admin and its
    viewer on one API server would count once and the sum never reach JOURNAL_SIZE)."""
    total = 0
    for context in contexts:
        answer = await client.call_tool(
            "k8s_fleet_recent_changes", {"minutes": 1440, "limit": 1, "context": context}
        )
        count = (answer.structured_content or {}).get("total")
        if answer.is_error or not isinstance(count, int):
            return None
        total += count
    return total


def settled(entries: dict[str, Any], expected: int) -> bool:
    return len(entries) == expected and all(
        e.get("forbidden") or (e["synced"] and e["healthy"]) for e in entries.values()
    )


# -- the run ----------------------------------------------------------------------------------------


async def soak(fleet: ControlPlaneFleet, plan: Plan, workdir: Path, rng: random.Random) -> dict[str, Any]:
    contexts = [c for ctx in fleet.contexts for c in (ctx, fleet.viewer(ctx))]
    expected_entries = len(contexts) * len(KINDS)
    state = controlplane.load(workdir)
    ports = {c.port: c.name for c in state.clusters}
    env = {**os.environ, "KUBECONFIG_DIR": str(fleet.kubeconfig_dir), "K8S_MCP_CACHE_TTL": "0"}
    env.pop("KUBECONFIG", None)
    params = StdioServerParameters(
        command=str(SCRIPT), args=["--watch", "--contexts", ",".join(contexts)], env=env
    )
    churn = Churn(fleet, plan, rng)
    log.info(
        "seeding %d clusters: %d pods each, namespaces %s",
        len(fleet.contexts),
        plan.pods,
        ", ".join(NAMESPACES),
    )
    await anyio.to_thread.run_sync(churn.seed)
    figures: dict[str, Any] = {"plan": asdict(plan), "contexts": contexts, "clusters": len(fleet.contexts)}
    samples: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    questions: list[float] = []
    server_log = workdir / "server.log"
    with server_log.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), read_timeout_seconds=300) as client:
            pid = server_pid()
            started = time.monotonic()
            while True:
                entries = await cache_entries(client)
                if settled(entries, expected_entries):
                    break
                if time.monotonic() - started > 120:
                    raise RuntimeError(f"the cache did not sync in 120 s: {json.dumps(entries)[:2000]}")
                await anyio.sleep(0.5)
            figures["sync_s"] = time.monotonic() - started
            figures["after_sync"] = sample(pid, ports)
            log.info(
                "cache synced in %.1f s; warm-up under churn for %.0f s%s",
                figures["sync_s"],
                plan.warmup,
                " or more, until the change journal is full" if plan.fill_journal else "",
            )

            async def probe(phase: str) -> dict[str, Any]:
                t0 = time.perf_counter()
                await client.call_tool("k8s_fleet_summary", {})
                questions.append(time.perf_counter() - t0)
                entries = await cache_entries(client)
                journal = await journal_entries(client, contexts)
                point = sample(pid, ports) | {"phase": phase}
                point["journal"] = journal
                point["cache"] = {
                    "objects": sum(e["objects"] for e in entries.values()),
                    "relists": sum(e["relists"] for e in entries.values()),
                    "reconnects": sum(e["reconnects"] for e in entries.values()),
                    "unhealthy": sorted(
                        k for k, e in entries.items() if not e["healthy"] and not e.get("forbidden")
                    ),
                }
                samples.append(point)
                return point

            churn.start()
            figures["churn_started_at"] = time.time()
            warm_start = time.monotonic()
            while True:
                left = warm_start + plan.warmup - time.monotonic()
                await anyio.sleep(min(plan.sample_every, left) if left > 0 else plan.sample_every)
                point = await probe("warm-up")
                log.info(
                    "warm-up t=%4.0fs RSS %.1f MB, change journal %s of %d entries",
                    time.monotonic() - warm_start, point["rss_kb"] / 1024, point["journal"], JOURNAL_SIZE,
                )  # fmt: skip
                if warmed_up(plan, time.monotonic() - warm_start, point["journal"]):
                    break
            done_before, viewer_before = sum(churn.done.values()), churn.viewer_writes
            steady = await probe("steady")
            figures["steady"] = steady
            log.info(
                "steady: RSS %.1f MB, %d threads, %d sockets, API connections %s, %d children",
                steady["rss_kb"] / 1024,
                steady["threads"],
                steady["sockets"],
                steady["api_connections"],
                steady["children"],
            )

            t0 = time.monotonic()

            async def happenings() -> None:
                for at, what, arg in timeline(plan, fleet.contexts):
                    await anyio.sleep(max(0.0, t0 + at - time.monotonic()))
                    events.append(await happen(fleet, churn, what, arg, plan, t0))

            async with anyio.create_task_group() as group:
                group.start_soon(happenings)
                while time.monotonic() < t0 + plan.duration:
                    await anyio.sleep(max(0.0, min(plan.sample_every, t0 + plan.duration - time.monotonic())))
                    point = await probe("churn")
                    writes = sum(churn.done.values())
                    log.info(
                        "t=%4.0fs RSS %.1f MB threads %d sockets %d writes %d (%.1f/s) cache %d objects, "
                        "%d relists, %d reconnects%s",
                        time.monotonic() - t0, point["rss_kb"] / 1024, point["threads"], point["sockets"],
                        writes,
                        (writes - done_before) / max(1e-9, time.monotonic() - t0), point["cache"]["objects"],
                        point["cache"]["relists"], point["cache"]["reconnects"],
                        f", unhealthy {point['cache']['unhealthy']}" if point["cache"]["unhealthy"] else "",
                    )  # fmt: skip
            await anyio.to_thread.run_sync(churn.stop)
            churn_seconds = churn.stopped - t0
            writes = sum(churn.done.values()) - done_before
            figures["churn"] = {
                "seconds": churn_seconds,
                "writes": writes,
                "writes_per_s": writes / churn_seconds,
                "target_per_s": plan.rate,
                "by_kind": dict(churn.done),
                "failed": dict(churn.failed),
                "errors": dict(churn.errors),
                "late_ticks": churn.late,
                "watch_events_per_s": (writes + churn.viewer_writes - viewer_before) / churn_seconds,
            }
            log.info(
                "churn stopped: %d writes in %.0f s (%.1f/s); failed %s",
                writes,
                churn_seconds,
                writes / churn_seconds,
                dict(churn.failed) or "none",
            )

            settle_started = time.monotonic()
            rounds = []
            while True:
                entries = await cache_entries(client)
                result = await compare(client, fleet) if settled(entries, expected_entries) else None
                equal = result is not None and all(v["equal"] for v in result.values())
                moved = result is not None and any(v.get("moved") for v in result.values())
                rounds.append({"settled": result is not None, "equal": equal, "moved": moved})
                if equal and not moved:
                    break
                if time.monotonic() - settle_started > plan.settle_timeout:
                    break
                log.info(
                    "cache not equal to a fresh LIST yet (settled: %s, moved: %s); again in 5 s",
                    result is not None,
                    moved,
                )
                await anyio.sleep(5)
            figures["compare"] = {
                "equal": equal,
                "rounds": len(rounds),
                "settle_s": time.monotonic() - settle_started,
                "per_context_kind": result if result is not None else {"unsettled": entries},
            }
            await anyio.sleep(15)  # idle workers end (anyio's after 10 s); then the end sample
            end = await probe("end")
            figures["end"] = end
            figures["cache_status_end"] = await cache_entries(client)
        figures["server_exited"] = exited(pid)
    figures["events"] = events
    figures["samples"] = samples
    figures["fleet_question_ms"] = {
        "p50": statistics.median(questions) * 1000,
        "max": max(questions) * 1000,
        "count": len(questions),
    }
    text = server_log.read_text(errors="replace").splitlines()
    figures["server_log"] = {
        "lines": len(text),
        "warnings": sum(" WARNING " in line or "WARNING:" in line for line in text),
        "errors": [line for line in text if "ERROR" in line or "Traceback" in line][:20],
        "last": text[-20:],
    }
    return figures


def warmed_up(plan: Plan, elapsed: float, journal: int | None) -> bool:
    """The warm-up ends after `plan.warmup` seconds and, when the plan fills the journal, once it
    holds JOURNAL_SIZE changes (the server's `k8s_fleet_recent_changes` total) or at the limit."""
    if elapsed < plan.warmup:
        return False
    return not plan.fill_journal or (journal or 0) >= JOURNAL_SIZE or elapsed >= plan.warmup_limit


def timeline(plan: Plan, clusters: list[str]) -> list[tuple[float, str, Any]]:
    """(seconds after the warm-up, what, argument): restarts spread evenly (each a different
    cluster), one compaction between the first two, rolling restarts (real nodes)."""
    out: list[tuple[float, str, Any]] = [
        (plan.duration * (2 * i + 1) / (2 * plan.restarts), "restart", clusters[(i * 2) % len(clusters)])
        for i in range(plan.restarts)
    ]
    out.append((plan.duration * (0.3 if plan.restarts == 1 else 0.35), "compact", None))
    if plan.nodes:
        roll, count = plan.roll_every, 0
        while roll < plan.duration - 10:
            out.append((roll, "roll", count))
            roll, count = roll + plan.roll_every, count + 1
    return sorted(out, key=lambda item: item[0])


async def happen(
    fleet: ControlPlaneFleet, churn: Churn, what: str, arg: Any, plan: Plan, t0: float
) -> dict[str, Any]:
    if what == "restart":
        return await restart(fleet, churn, arg, plan.downtime, t0)
    if what == "compact":
        return await compact(fleet, t0)
    at = time.monotonic() - t0
    up = [c for c in fleet.contexts if c not in churn.down]
    ctx, deployment = up[arg % len(up)], DEPLOYMENTS[arg % len(DEPLOYMENTS)]
    try:
        await anyio.to_thread.run_sync(churn.roll, ctx, arg % len(DEPLOYMENTS))
    except Exception as exc:
        churn.failed["rolling restart"] += 1
        log.warning("rolling restart on %s failed: %s", ctx, exc)
    return {"at_s": at, "event": "rolling restart", "context": ctx, "deployment": deployment}


async def restart(
    fleet: ControlPlaneFleet, churn: Churn, ctx: str, downtime: float, t0: float
) -> dict[str, Any]:
    at = time.monotonic() - t0
    churn.pause(ctx)
    await anyio.sleep(0.5)  # writes in flight to it end
    await anyio.to_thread.run_sync(fleet.stop, ctx)
    behind = await anyio.to_thread.run_sync(churn.behind_the_server, ctx, 2)
    await anyio.sleep(downtime)
    started = time.monotonic()
    await anyio.to_thread.run_sync(fleet.start, ctx)
    churn.resume(ctx)
    log.info("restarted %s (down %.0f s, %d pods deleted behind its back)", ctx, downtime, behind)
    return {
        "at_s": at,
        "event": "API server restart",
        "context": ctx,
        "down_s": downtime,
        "start_s": time.monotonic() - started,
        "deleted_behind_the_server": behind,
    }


async def compact(fleet: ControlPlaneFleet, t0: float) -> dict[str, Any]:
    at = time.monotonic() - t0
    await anyio.to_thread.run_sync(fleet.compact)
    log.info("compacted etcd")
    return {"at_s": at, "event": "etcd compaction"}


# -- report -----------------------------------------------------------------------------------------


def steady_set(figures: dict[str, Any]) -> dict[str, Any]:
    """What the server keeps while it serves steadily: the most threads, sockets, established
    connections per API server and children of any sample in the first half of the churn. A
    single sample is not the set: a question's worker thread lives 10 s after it (anyio), and a
    pooled live connection the API server closed sits in CLOSE_WAIT until reused (then it is not
    counted as established). Whatever leaks grows past this by the end."""
    steady, end = figures["steady"], figures["end"]
    half = steady["at"] + (end["at"] - steady["at"]) / 2
    churn = [s for s in figures["samples"] if s["phase"] in ("steady", "churn")]
    early = [s for s in churn if s["at"] <= half] or [steady]
    servers = {k for s in early for k in s["api_connections"]}
    return {
        "threads": max(s["threads"] for s in early),
        "sockets": max(s["sockets"] for s in early),
        "children": max(s["children"] for s in early),
        "api_connections": {k: max(s["api_connections"].get(k, 0) for s in early) for k in sorted(servers)},
    }


def verdicts(figures: dict[str, Any]) -> dict[str, Any]:
    steady, end = figures["steady"], figures["end"]
    growth = (end["rss_kb"] - steady["rss_kb"]) / steady["rss_kb"] * 100
    churn_points = [s for s in figures["samples"] if s["phase"] in ("steady", "churn")]
    middle = min(churn_points, key=lambda s: abs(s["at"] - (steady["at"] + end["at"]) / 2))
    # The change journal (`k8s_fleet_recent_changes`) fills with churn up to JOURNAL_SIZE entries
    # (10 to 15 minutes at 50 writes/s): a bounded structure filling, not a leak. The full run's
    # warm-up lasts until it is full; the growth from the fixed warm-up (`plan.warmup` seconds of
    # churn, as the quick run measures) is reported beside it.
    warming = [s for s in figures["samples"] if s["phase"] in ("warm-up", "steady")]
    warmup = figures["plan"]["warmup"]
    fixed = next((s for s in warming if s["at"] - figures["churn_started_at"] >= warmup), steady)
    full = next((s for s in figures["samples"] if (s.get("journal") or 0) >= JOURNAL_SIZE), None)
    kept = steady_set(figures)
    connections = {k: n - kept["api_connections"].get(k, 0) for k, n in end["api_connections"].items()}
    return {
        "cache_equal_to_fresh_list": figures["compare"]["equal"],
        "rss_steady_mb": steady["rss_kb"] / 1024,
        "rss_end_mb": end["rss_kb"] / 1024,
        "rss_max_mb": max(s["rss_kb"] for s in churn_points) / 1024,
        "rss_growth_pct": growth,
        "rss_growth_within_5pct": growth <= 5,
        "rss_growth_second_half_pct": (end["rss_kb"] - middle["rss_kb"]) / middle["rss_kb"] * 100,
        "warmup_s": steady["at"] - figures["churn_started_at"],
        "journal_full_at_steady": (steady.get("journal") or 0) >= JOURNAL_SIZE,
        "rss_fixed_warmup_mb": fixed["rss_kb"] / 1024,
        "rss_growth_from_fixed_warmup_pct": (end["rss_kb"] - fixed["rss_kb"]) / fixed["rss_kb"] * 100,
        "rss_journal_full_mb": full["rss_kb"] / 1024 if full else None,
        "rss_growth_after_journal_full_pct": (end["rss_kb"] - full["rss_kb"]) / full["rss_kb"] * 100
        if full
        else None,
        "journal_full_after_s": full["at"] - figures["churn_started_at"] if full else None,
        "journal": [steady.get("journal"), end.get("journal")],
        "threads": [steady["threads"], end["threads"]],
        "threads_max": max(s["threads"] for s in churn_points),
        "sockets": [steady["sockets"], end["sockets"]],
        "sockets_max": max(s["sockets"] for s in churn_points),
        "steady_set": kept,
        "api_connections_beyond_steady_set": connections,
        "children": [steady["children"], end["children"]],
        "nothing_leaked": end["threads"] <= kept["threads"]
        and end["sockets"] <= kept["sockets"]
        and end["children"] <= kept["children"]
        and all(v <= 0 for v in connections.values()),
        "server_cpu_s_per_1k_writes": (end["cpu_s"] - steady["cpu_s"])
        / max(1, figures["churn"]["writes"])
        * 1000,
    }


def report(figures: dict[str, Any]) -> None:
    v, plan, churn = figures["verdicts"], figures["plan"], figures["churn"]
    print(
        f"soak: {figures['clusters']} API servers, {len(figures['contexts'])} contexts, "
        f"{plan['nodes']} real node(s) per cluster; {churn['seconds']:.0f} s of churn after "
        f"{v['warmup_s']:.0f} s warm-up ("
        + (
            "until the change journal was full"
            if v["journal_full_at_steady"]
            else "the change journal not full"
        )
        + f"); cache synced in {figures['sync_s']:.1f} s"
    )
    print(
        f"  writes: {churn['writes']:,} ({churn['writes_per_s']:.1f}/s, "
        f"target {churn['target_per_s']:.0f}/s; about {churn['watch_events_per_s']:.1f} events/s into the "
        "caches, counting the viewer contexts'); with the warm-up: "
        + ", ".join(f"{k} {n:,}" for k, n in sorted(churn["by_kind"].items()))
        + (f"; failed {churn['failed']}" if churn["failed"] else "")
    )
    rolls = [e for e in figures["events"] if e["event"] == "rolling restart"]
    for event in figures["events"]:
        if event["event"] != "rolling restart":
            extra = {k: val for k, val in event.items() if k not in ("at_s", "event")}
            print(f"  t={event['at_s']:6.0f}s {event['event']} {extra or ''}")
    if rolls:
        print(
            f"  {len(rolls)} rolling restarts of Deployments on real nodes, every {plan['roll_every']:.0f} s"
        )
    equal = "EQUAL" if v["cache_equal_to_fresh_list"] else "DIFFERENT"
    compare = figures["compare"]
    print(
        f"  cache vs fresh LIST of every context and kind: {equal} (after {compare['rounds']} round(s), "
        f"{compare['settle_s']:.0f} s)"
    )
    for key, entry in compare["per_context_kind"].items():
        if not entry.get("equal", False):
            print(f"    {key}: {json.dumps(entry)[:2000]}")
    print(
        f"  RSS: end of warm-up {v['rss_steady_mb']:.1f} MB, end {v['rss_end_mb']:.1f} MB "
        f"({v['rss_growth_pct']:+.1f}%), "
        f"max {v['rss_max_mb']:.1f} MB: {'within' if v['rss_growth_within_5pct'] else 'OVER'} 5%; "
        f"second half {v['rss_growth_second_half_pct']:+.1f}%; change journal {v['journal'][0]} -> "
        f"{v['journal'][1]} entries (bounded at {JOURNAL_SIZE:,})"
        + (
            f"; from when it was full (t={v['journal_full_after_s']:.0f}s, "
            f"{v['rss_journal_full_mb']:.1f} MB) "
            f"to the end {v['rss_growth_after_journal_full_pct']:+.1f}%"
            if v["journal_full_after_s"] is not None
            else ""
        )
        + f"; from {plan['warmup']:.0f} s of churn ({v['rss_fixed_warmup_mb']:.1f} MB) to the end "
        f"{v['rss_growth_from_fixed_warmup_pct']:+.1f}%"
    )
    print(
        f"  threads {v['threads'][0]} -> {v['threads'][1]}, sockets {v['sockets'][0]} -> {v['sockets'][1]}, "
        f"API connections {figures['steady']['api_connections']} -> {figures['end']['api_connections']}, "
        f"children {v['children'][0]} -> {v['children'][1]}; steady set (most of any sample, first half "
        f"of the churn): threads {v['steady_set']['threads']}, sockets {v['steady_set']['sockets']}, API "
        f"connections {v['steady_set']['api_connections']}, children {v['steady_set']['children']}: "
        f"{'nothing leaked' if v['nothing_leaked'] else 'MORE THAN THE STEADY SET'}"
    )
    print(
        f"  server CPU {v['server_cpu_s_per_1k_writes']:.2f} s per 1,000 writes; fleet question p50 "
        f"{figures['fleet_question_ms']['p50']:.1f} ms, max {figures['fleet_question_ms']['max']:.1f} ms; "
        f"server log: {figures['server_log']['warnings']} warnings, "
        f"{len(figures['server_log']['errors'])} errors; "
        f"server exited: {figures['server_exited']}"
    )


def run(plan: Plan, seed_value: int | None = None) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="k8s-soak-", dir="/tmp"))
    rng = random.Random(seed_value)  # noqa: S311  # nosec B311: test data, not cryptography
    fleet: ControlPlaneFleet | None = None
    try:
        log.info(
            "starting %d API servers%s in %s",
            CLUSTERS,
            f" with {plan.nodes} real node(s) each" if plan.nodes else "",
            workdir,
        )
        fleet = ControlPlaneFleet(workdir, clusters=CLUSTERS, nodes=plan.nodes)
        figures = anyio.run(soak, fleet, plan, workdir, rng)
        figures["verdicts"] = verdicts(figures)
        figures["when"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return figures
    finally:
        for api in _VIEWERS.values():
            api.close()
        _VIEWERS.clear()
        if fleet is not None:
            fleet.close()
        else:
            controlplane.down(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="CI's smoke: 60 s, 1 restart, 20 writes/s")
    parser.add_argument("--duration", type=float, help="seconds of churn after the warm-up (default 3600)")
    parser.add_argument("--warmup", type=float, help="seconds of churn before the steady sample (120; 15)")
    parser.add_argument("--rate", type=float, help="API writes per second in all (default 50; --quick 20)")
    parser.add_argument(
        "--nodes",
        type=int,
        default=0,
        metavar="M",
        help="real nodes per cluster (root): rolling restarts of real Deployments",
    )
    parser.add_argument("--seed", type=int, help="random seed of the churn")
    parser.add_argument("--output", type=Path, help="write every figure as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    plan = Plan.make(args.quick, args.duration, args.rate, args.nodes, args.warmup)
    figures = run(plan, args.seed)
    report(figures)
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2, default=str))
    return 0 if figures["verdicts"]["cache_equal_to_fresh_list"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
