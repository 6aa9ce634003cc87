"""The watch cache at scale, in process: memory per cached pod and events ingested per second.

Realistic pod JSON (production-like: managedFields, three containers, a dozen labels, owner
references, conditions, ~9 KB each) is replayed as watch-stream lines through the reflectors' own
path: `Reflector._consume` decodes each line with orjson, builds the record with
`records.to_record` and applies it to a `KindStore` (indexes and needs-attention sets included).

- bytes per cached pod at 10k and 100k pods over 10 contexts: tracemalloc (what Python holds)
  and the RSS delta of a fresh process (what the machine gives it), each measured in its own
  subprocess so one measurement cannot leak into the next;
- events ingested per second of CPU time (per core) for ADDED and for MODIFIED.

    .venv/bin/python -m benchmarks.bench_cache [--quick] [--output FILE.json]
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.sources.base import Snapshot
from k8s_multicluster_mcp.sources.watch.reflector import Reflector
from k8s_multicluster_mcp.sources.watch.source import WatchSource
from k8s_multicluster_mcp.sources.watch.store import KindStore

CONTEXTS = 10
NAMESPACES = 40
NODES = 200
IMAGES = [f"registry.example.com/team-{i}/service-{i}:v1.{i}.3" for i in range(60)]
BASE = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _time(seconds: int) -> str:
    return (BASE + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _container(index: int, n: int, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": IMAGES[(index + n) % len(IMAGES)],
        "ports": [{"containerPort": 8080 + n, "protocol": "TCP"}],
        "env": [{"name": f"ENV_{k}", "value": f"value-{k}-{index}"} for k in range(8)],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "volumeMounts": [
            {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
        ],
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
    }


def _managed_fields(containers: list[dict[str, Any]], when: str) -> list[dict[str, Any]]:
    """What server-side field management records: a quarter to a third of a real pod's JSON."""
    spec = {
        f'k:{{"name":"{c["name"]}"}}': {
            ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {"f:limits": {}},
            "f:env": {f'k:{{"name":"{e["name"]}"}}': {".": {}, "f:name": {}, "f:value": {}} for e in c["env"]},
            "f:ports": {'k:{"containerPort":8080,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
        }
        for c in containers
    }  # fmt: skip
    return [
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": when,
         "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {}, "f:ownerReferences": {}},
                                                 "f:spec": {"f:containers": spec}}},
        {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": when, "fieldsType": "FieldsV1",
         "subresource": "status",
         "fieldsV1": {"f:status": {"f:conditions": {}, "f:containerStatuses": {}, "f:podIP": {}, "f:startTime": {}}}},
    ]  # fmt: skip


def pod_json(index: int, version: int = 1, failing: bool = False) -> dict[str, Any]:
    """One production-like pod object as the API server sends it (~9 KB)."""
    app = f"service-{index % 60}"
    namespace = f"team-{index % NAMESPACES}"
    rs = f"{app}-{index % 7:08x}"
    created, running, ready = _time(index), _time(index + 8), _time(index + 9)
    containers = [_container(index, n, name) for n, name in enumerate(("app", "sidecar", "metrics"))]
    state = (
        {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}
        if failing
        else {"running": {"startedAt": running}}
    )
    statuses = [
        {
            "name": c["name"], "image": c["image"], "imageID": f"{c['image']}@sha256:{'ab' * 32}",
            "ready": not failing, "restartCount": 7 if failing else 0, "started": not failing,
            "state": state, "containerID": f"containerd://{index:064x}",
        }
        for c in containers
    ]  # fmt: skip
    labels = {
        "app": app, "tier": "backend", "version": "v1", "team": namespace, "pod-template-hash": f"{index % 7:08x}",
        "app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "shop", "app.kubernetes.io/managed-by": "helm",
        "environment": "production", "region": "eu-west-1", "release": "stable",
    }  # fmt: skip
    conditions = [
        {"type": kind, "status": "False" if failing and kind in ("Ready", "ContainersReady") else "True",
         "lastTransitionTime": when}
        for kind, when in (("PodReadyToStartContainers", running), ("Initialized", created), ("Ready", ready),
                           ("ContainersReady", ready), ("PodScheduled", created))
    ]  # fmt: skip
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": f"{rs}-{index:06x}", "namespace": namespace, "generateName": f"{rs}-",
            "uid": f"{index:08x}-0000-4000-8000-{index:012x}", "resourceVersion": str(version * 10_000_000 + index),
            "creationTimestamp": created, "labels": labels,
            "annotations": {"kubectl.kubernetes.io/restartedAt": created, "prometheus.io/scrape": "true"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": f"rs-{index % 7}",
                                 "controller": True, "blockOwnerDeletion": True}],
            "managedFields": _managed_fields(containers, created),
        },
        "spec": {
            "containers": containers, "nodeName": f"node-{index % NODES:03d}", "serviceAccountName": "default",
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}],
        },
        "status": {
            "phase": "Running", "podIP": f"10.{index % 250}.{index // 250 % 250}.{index % 200}",
            "hostIP": f"192.168.1.{index % NODES}", "startTime": created, "qosClass": "Burstable",
            "conditions": conditions, "containerStatuses": statuses,
        },
    }  # fmt: skip


def stream(pods: int, event: str, version: int = 1, offset: int = 0) -> bytes:
    """A watch stream of `pods` events of type `event`, one JSON line each."""
    lines = (
        orjson.dumps({"type": event, "object": pod_json(offset + i, version, failing=(offset + i) % 50 == 0)})
        for i in range(pods)
    )
    return b"\n".join(lines) + b"\n"


class Replay:
    """A watch response whose body is `data`, handed out in 64 KiB chunks as a socket would."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, amt: Any = None, decode_content: Any = None) -> Iterator[bytes]:
        view = memoryview(self.data)
        for start in range(0, len(view), 65536):
            yield bytes(view[start : start + 65536])


def reflector(context: str) -> Reflector:
    """A reflector that is never started: only its event path (`_consume`) is used."""
    ctx = ContextInfo(context, context, Path("bench"), context, None, "u", None, "token")
    return Reflector(ctx, Kind.POD, None, KindStore(context, Kind.POD))  # type: ignore[arg-type]


def fill(total: int, contexts: int = CONTEXTS) -> list[Reflector]:
    """`total` pods over `contexts` stores, through the reflectors' own event path."""
    per = total // contexts
    made = []
    for index in range(contexts):
        r = reflector(f"cluster-{index}")
        r._consume(Replay(stream(per, "ADDED", offset=index * per)), None)
        made.append(r)
    return made


def measure_one(what: str, total: int) -> dict[str, float]:
    """Run in a fresh subprocess: bytes per pod held by the caches of `total` pods."""
    gc.collect()
    if what == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        kept = fill(total)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    else:
        before = rss()
        kept = fill(total)
        gc.collect()
        held = rss() - before
    assert sum(len(r.store) for r in kept) == total
    return {"bytes_per_pod": held / total}


def relist(total: int, page: int = 500) -> dict[str, float]:
    """A relist of `total` pods into a store that holds them already, the way `Reflector._list`
    does it after each HTTP page arrives: each page decoded, its records built, then the store
    replaced at once. Timed without tracing; peak memory above the cache measured by tracemalloc
    in a second pass."""
    from k8s_multicluster_mcp.model.records import to_record

    pages = [
        orjson.dumps(
            {
                "kind": "PodList",
                "items": [pod_json(i, version=2) for i in range(start, min(total, start + page))],
            }
        )
        for start in range(0, total, page)
    ]
    r = reflector("relist")
    r._consume(Replay(stream(total, "ADDED")), None)

    def once() -> None:
        records = []
        for body in pages:
            records.extend(to_record(Kind.POD, "relist", obj) for obj in orjson.loads(body)["items"])
        r.store.replace(records)

    gc.collect()
    started = time.perf_counter()
    once()
    seconds = time.perf_counter() - started
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    once()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert len(r.store) == total
    return {"relist_ms": seconds * 1000, "relist_peak_mb": peak / 2**20, "relist_pods": total}


def gc_pause(total: int) -> dict[str, float]:
    """A full collection's pause with `total` cached pods, before and after `gc.freeze()`."""
    kept = fill(total)
    gc.collect()
    started = time.perf_counter()
    gc.collect()
    before = time.perf_counter() - started
    gc.freeze()
    started = time.perf_counter()
    gc.collect()
    after = time.perf_counter() - started
    gc.unfreeze()
    assert kept
    return {"gc_ms": before * 1000, "gc_after_freeze_ms": after * 1000}


class StoreSource:
    """A `ClusterSource` over filled stores, answering as the watch source does once synced."""

    def __init__(self, reflectors: list[Reflector]) -> None:
        self.reflectors = {(r.ctx.name, r.kind): r for r in reflectors}

    def fetch(self, contexts: Any, kind: Kind, namespace: Any = None, selector: Any = None,
              keeps: Any = "all", pod_filter: Any = None) -> dict[str, Any]:  # fmt: skip
        """The watch source's own answer from a synced reflector (`WatchSource._snapshot`)."""
        out: dict[str, Any] = {}
        for ctx in contexts:
            reflector = self.reflectors.get((ctx.name, kind))
            if reflector is None:
                out[ctx.name] = Snapshot(ctx.name, kind, (), datetime.now(timezone.utc), "cache")
                continue
            out[ctx.name] = WatchSource._snapshot(  # type: ignore[arg-type]  # it reads no state of its own
                None, reflector, namespace, keeps=keeps, counted=selector is None,
                pods=pod_filter,
            )  # fmt: skip
        return out

    def start(self) -> None: ...

    def cache_status(self) -> None: ...

    def close(self) -> None: ...


def query_latency(total: int, rounds: int = 30) -> dict[str, float]:
    """p50/p99 of fleet questions over `total` cached pods, through the query layer."""
    from k8s_multicluster_mcp.query import fleet
    from k8s_multicluster_mcp.query.state import ClusterState

    reflectors = fill(total)
    registry = ContextRegistry(directory=None)
    registry.resolve = lambda spec=None: [r.ctx for r in reflectors]  # type: ignore[method-assign]
    state = ClusterState(registry, StoreSource(reflectors))  # type: ignore[arg-type]
    questions = {  # as the tools ask them (`limit` 50)
        "failing_pods": lambda: fleet.failing_pods(state, limit=50),
        "summary": lambda: fleet.summary(state),
        "find_pods": lambda: fleet.find_pods(state, name="service-1*", limit=50),
        "find_node": lambda: fleet.find_pods(state, node="node-001", limit=50),
        "find_namespace": lambda: fleet.find_pods(state, namespace="team-1", limit=50),
        "find_owner": lambda: fleet.find_pods(state, owner="Deployment/service-1", limit=50),
    }
    out = {}
    for name, ask in questions.items():
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            ask()
            times.append(time.perf_counter() - started)
        times.sort()
        out[f"{name}_p50_ms"] = times[len(times) // 2] * 1000
        out[f"{name}_p99_ms"] = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
    out["failing_pods_found"] = len(fleet.failing_pods(state).items)
    return out


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def events_per_second(pods: int) -> dict[str, float]:
    """Events per CPU second (one core) for ADDED, then MODIFIED of the same pods."""
    out = {}
    r = reflector("rate")
    for event, version in (("ADDED", 1), ("MODIFIED", 2)):
        data = stream(pods, event, version)
        started = time.process_time()
        r._consume(Replay(data), None)
        out[event] = pods / (time.process_time() - started)
    return out


def in_fresh_process(what: str, total: int) -> dict[str, Any]:
    """One measure (`tracemalloc`, `rss`, `gc`, `query`) in a new interpreter, so none leaks into
    the next."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_cache", "--one", what, str(total)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout.splitlines()[-1]))


def main() -> int:
    quick = "--quick" in sys.argv
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        what, total = sys.argv[2], int(sys.argv[3])
        measures = {"gc": gc_pause, "query": query_latency, "relist": relist}
        print(json.dumps(measures[what](total) if what in measures else measure_one(what, total)))
        return 0
    sizes = (10_000,) if quick else (10_000, 100_000)
    sample = orjson.dumps(pod_json(1))
    managed = len(orjson.dumps(pod_json(1)["metadata"]["managedFields"]))
    print(f"pod JSON: {len(sample)} bytes each, managedFields {managed} of it")
    results: dict[str, Any] = {"pod_json_bytes": len(sample)}
    for total in sizes:
        for what in ("tracemalloc", "rss"):
            per = in_fresh_process(what, total)["bytes_per_pod"]
            results[f"{what}_bytes_per_pod_{total}"] = per
            print(f"{total:>7} pods over {CONTEXTS} contexts, {what:>11}: {per:,.0f} bytes per cached pod")
    largest = sizes[-1]
    pause = in_fresh_process("gc", largest)
    results.update(pause)
    print(
        f"gc.collect() with {largest} cached pods: {pause['gc_ms']:.0f} ms; "
        f"after gc.freeze() (what --watch does once synced): {pause['gc_after_freeze_ms']:.1f} ms"
    )
    latency = in_fresh_process("query", largest)
    results.update(latency)
    for name in ("failing_pods", "summary", "find_pods", "find_node", "find_namespace", "find_owner"):
        print(
            f"{name} over {largest} cached pods: p50 {latency[name + '_p50_ms']:.1f} ms, p99 {latency[name + '_p99_ms']:.1f} ms"
        )
    again = in_fresh_process("relist", 10_000)
    results.update(again)
    print(f"relist of 10000 pods (decode, records, replace): {again['relist_ms']:.0f} ms, "
          f"peak {again['relist_peak_mb']:.0f} MB above the cache")  # fmt: skip
    rates = events_per_second(5_000 if quick else 20_000)
    for event, rate in rates.items():
        results[f"{event.lower()}_events_per_s"] = rate
        print(f"{event:>8} events ingested: {rate:,.0f} per CPU second (one core)")
    if "--output" in sys.argv:
        Path(sys.argv[sys.argv.index("--output") + 1]).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
