"""Side-by-side ratios for listing pods.

1. Decode: `CoreV1Api.list_namespaced_pod` (typed client models) vs the live source's path
   (`_preload_content=False`, orjson, slim records), same list, same server.
2. Fan-out: one fleet question over 3 clusters, asked one cluster at a time vs through
   `ClusterState` (parallel), with the TTL cache off.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from kubernetes.client import CoreV1Api

from integration import seed
from integration.backends import ControlPlaneFleet
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.records import pod_record
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.sources import LiveSource

PODS = 1000
ROUNDS = 7


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def side_by_side(a: Callable[[], object], b: Callable[[], object]) -> tuple[float, float]:
    times_a, times_b = [], []
    for _ in range(ROUNDS):
        times_a.append(timed(a))
        times_b.append(timed(b))
    return statistics.median(times_a), statistics.median(times_b)


def run() -> dict[str, float]:
    """Decode ratio (typed client vs raw) and fan-out ratio (one by one vs parallel)."""
    workdir = Path(tempfile.mkdtemp(prefix="k8s-mcp-bench-"))
    fleet = ControlPlaneFleet(workdir)
    try:
        namespace = "bench"
        for ctx in fleet.contexts:
            seed.create_namespace(fleet.admin(ctx), namespace)
        api = fleet.admin(fleet.contexts[0])
        for i in range(PODS):
            seed.create_pod(api, namespace, f"p-{i}", labels={"app": "bench", "i": str(i % 10)})
        for ctx in fleet.contexts[1:]:
            for i in range(PODS // 4):
                seed.create_pod(fleet.admin(ctx), namespace, f"p-{i}")
        core = CoreV1Api(api)

        def typed() -> object:
            return core.list_namespaced_pod(namespace).items

        def raw() -> object:
            body = orjson.loads(core.list_namespaced_pod(namespace, _preload_content=False).data)
            return [pod_record("c", obj) for obj in body["items"]]

        typed_s, raw_s = side_by_side(typed, raw)

        files = sorted(fleet.kubeconfig_dir.iterdir())
        registry = ContextRegistry(directory=None, files=files)
        state = ClusterState(registry, LiveSource(registry, ttl=0))

        def sequential() -> object:
            return [state.pods(ctx, namespace) for ctx in fleet.contexts]

        def parallel() -> object:
            return state.pods(fleet.contexts, namespace)

        seq_s, par_s = side_by_side(sequential, parallel)
    finally:
        fleet.close()
        shutil.rmtree(workdir, ignore_errors=True)  # its etcd: 67 MB a run, left in /tmp before
    return {
        "decode_typed_ms": typed_s * 1000,
        "decode_raw_ms": raw_s * 1000,
        "decode_ratio": typed_s / raw_s,
        "fanout_sequential_ms": seq_s * 1000,
        "fanout_parallel_ms": par_s * 1000,
        "fanout_ratio": seq_s / par_s,
    }


def report(figures: dict[str, float]) -> None:
    print(
        f"decode {PODS} pods: typed client {figures['decode_typed_ms']:.0f} ms, raw+orjson+records "
        f"{figures['decode_raw_ms']:.0f} ms, ratio {figures['decode_ratio']:.1f}x"
    )
    print(
        f"fleet of 3: one by one {figures['fanout_sequential_ms']:.0f} ms, fanned out "
        f"{figures['fanout_parallel_ms']:.0f} ms, ratio {figures['fanout_ratio']:.1f}x"
    )


def main() -> int:
    report(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
