"""`python -m benchmarks run [--quick] [--output FILE.json]`: every benchmark in one run.

Prints each part's table and the product's targets (met or not), and writes every figure as JSON.
Ratios come from interleaved repetitions and medians measured side by side in this one run; no
threshold is asserted (the machines are shared and noisy). `--quick` is the smoke test CI runs:
small sizes, a few rounds, about eight minutes. It exits 1 only if the soak finds the cache
differing from a fresh LIST.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import bench_authz, bench_fleet, bench_list, bench_scale, bench_soak, bench_startup


def _versions() -> dict[str, str]:
    return {
        name: importlib.metadata.version(name)
        for name in ("k8s-multicluster-mcp", "mcp", "kubernetes", "orjson")
    }


def _cache(quick: bool) -> dict[str, Any]:
    """bench_cache in a process of its own (it measures memory)."""
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "cache.json"
        args = [sys.executable, "-m", "benchmarks.bench_cache", "--output", str(output)] + (
            ["--quick"] if quick else []
        )
        subprocess.run(args, check=True, timeout=1800)
        return dict(json.loads(output.read_text()))


def _ms(figures: dict[str, Any], key: str) -> float:
    return float(figures[key]["p50_ms"])


def _scale_targets(
    scale: dict[str, Any], smaller: dict[str, Any] | None = None
) -> list[tuple[str, str, bool | None]]:
    """The 100-context targets, each judged only at its own size (not met or missed at --quick's):
    the latencies at 200k cached pods (`scale`), time to sync and memory at 100k (`smaller`, the
    run at 1,000 pods per context; at 200k they are shown, not judged)."""
    watch, od = scale["watch"], scale["on_demand"]
    pods = watch["cache"]["objects"].get("pods", 0)
    size = f"{scale['contexts']} contexts, {pods:,} cached pods"
    full = scale["contexts"] >= 100 and pods >= 200_000
    rows: list[tuple[str, str, bool | None]] = []
    for scenario, failing_limit, label in (("steady", 20, "steady state"), ("incident", 40, "incident")):
        part = watch[scenario]
        for question, limit in (("failing_pods", failing_limit), ("summary", 20)):
            raw, official = _ms(part, f"{question}_raw"), _ms(part, f"{question}_official")
            what = "failing pods" if question == "failing_pods" else "summary"
            rows.append((
                f"100 contexts (200k cached pods), {label}: {what} <= {limit} ms p50 over MCP (raw client)",
                f"{raw:.1f} ms raw, {official:.1f} ms official client ({size}, {part['failing']:,} failing)",
                raw <= limit if full else None,
            ))  # fmt: skip
    for sized in [s for s in (scale, smaller) if s is not None]:
        cached = sized["watch"]["cache"]["objects"].get("pods", 0)
        at_size = sized["contexts"] >= 100 and cached == 100_000
        synced = sized["watch"]["start"]["synced_s"]
        rss = max(sized["watch"]["synced"]["peak_rss"], sized["watch"]["incident"]["server"]["peak_rss"])
        where = f"{sized['contexts']} contexts, {cached:,} cached pods"
        note = "" if at_size else " (not judged: the target is for 100,000)"
        rows += [
            ("100 contexts x 1,000 pods: synced <= 60 s after start",
             f"{synced:.1f} s ({where}, {sized['watch']['synced']['threads']} threads){note}", synced <= 60 if at_size else None),
            ("100 contexts x 1,000 pods: RSS <= 1 GB", f"{rss / (1 << 20):,.0f} MB peak ({where}){note}",
             rss <= 1 << 30 if at_size else None),
        ]  # fmt: skip
    rows += [
        ("100 contexts on demand, 5 dead + 2 hung: answer within one --request-timeout (+1 s to render)",
         f"{od['p50_s']:.2f} s p50 (--request-timeout {od['request_timeout']:g}; {od['answered']} of {od['contexts']} answered; "
         f"dead and hung named: {'yes' if od['dead_and_hung_named'] else 'NO'})",
         od["p50_s"] <= od["request_timeout"] + 1 and od["dead_and_hung_named"] if scale["contexts"] >= 100 else None),
    ]  # fmt: skip
    return rows


def _bytes_targets(fleet: dict[str, Any], sized: str, at_size: bool) -> list[tuple[str, str, bool | None]]:
    """>= 20x fewer bytes to the model than the best peer, for the benchmark question (defaults), in
    each view (text only, structured only, both), steady and incident, with every failing pod named
    or counted in each view; the complete list (limit 1000) beside it, not a target."""
    rows: list[tuple[str, str, bool | None]] = []
    for scenario, part in fleet["scenarios"].items():
        ratio = part["bytes_vs_best_peer"]
        if not ratio.get("default"):
            rows.append(
                (f">= 20x fewer bytes to the model than the best peer, {scenario}", "no peer ran", None)
            )
            continue
        covered = all(
            c["named"] <= c["counted"] == part["failing"] for c in part["question"]["coverage"].values()
        )
        views = ", ".join(f"{v} {r['ratio']:.1f}x" for v, r in ratio["default"].items())
        peer = ratio["default"]["text"]["peer"].split(" ")[0]
        rows.append((
            f">= 20x fewer bytes to the model than the best peer, {scenario} (defaults; text/structured/both)",
            f"{views} vs {peer} {sized}; every failing pod counted in each view: {'yes' if covered else 'NO'}",
            min(r["ratio"] for r in ratio["default"].values()) >= 20 and covered if at_size else None,
        ))  # fmt: skip
        complete = ", ".join(f"{v} {r['ratio']:.1f}x" for v, r in ratio["complete"].items())
        rows.append(
            (f"  (not a target) the complete list, limit {fleet['limit']}, {scenario}", complete, None)
        )
    return rows


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, figure, met) for the product's targets; None where this run did not measure it."""
    cache, fleet, startup = results["cache"], results["fleet"], results["startup"]
    steady = fleet["scenarios"]["steady"]
    ratios, ours = steady["ratios"], steady["contestants"]
    at_size = fleet["pods_per_cluster"] >= 2000
    peers = [
        k
        for k in ratios
        if k.startswith("watch_vs_")
        and k.endswith("_time_ratio")
        and "on_demand" not in k
        and "original" not in k
    ]
    best_time = min((ratios[k] for k in peers), default=None)
    per_pod = cache.get("tracemalloc_bytes_per_pod_100000")
    p99 = cache.get("failing_pods_p99_ms")
    largest = "100k" if per_pod is not None else "10k"
    raw_watch, again = _ms(ours, bench_fleet.RAW_WATCH), _ms(ours, bench_fleet.RAW_WATCH_AGAIN)
    floor, floor_again = _ms(ours, bench_fleet.FLOOR), _ms(ours, bench_fleet.FLOOR_AGAIN)
    sized = f"at 3 x {fleet['pods_per_cluster']:,} pods"
    rows: list[tuple[str, str, bool | None]] = [
        ("<= 2 KB per cached pod at 100k pods", f"{per_pod:,.0f} B" if per_pod else "not measured (--quick)", per_pod <= 2048 if per_pod else None),
        (">= 10k pod events/s per core", f"{cache['added_events_per_s']:,.0f} ADDED, {cache['modified_events_per_s']:,.0f} MODIFIED",
         min(cache["added_events_per_s"], cache["modified_events_per_s"]) >= 10_000),
        ("failing pods p99 <= 5 ms over 100k cached pods (in process)", f"{p99:.1f} ms at {largest}", p99 <= 5 if largest == "100k" else None),
        *[(f"{what} p99 <= 10 ms over 100k cached pods (in process)", f"{cache[key]:.1f} ms at {largest}",
           cache[key] <= 10 if largest == "100k" else None)
          for what, key in (("summary", "summary_p99_ms"), ("find by node", "find_node_p99_ms"),
                            ("find by namespace", "find_namespace_p99_ms")) if key in cache],
        # Judged twice (benchmarks/README.md, "session 12"): as the issue measured it, the server
        # asked again at once (its floor then 0.6 ms), and in its turn after every other
        # contestant's work, where the floor alone takes most of the 3 ms.
        ("cached failing pods, 3 x 2,000 pods: <= 3 ms p50 at the server (raw client), asked again at once",
         f"{again:.1f} ms (floor {floor_again:.1f}) {sized}", again <= 3 if at_size else None),
        ("the same, in its turn after the other contestants' work (caches cold)",
         f"{raw_watch:.1f} ms raw (floor {floor:.1f}), {_ms(ours, 'this server --watch'):.1f} ms official client {sized}",
         raw_watch <= 3 if at_size else None),
        ("cached failing pods >= 100x faster than on-demand, same path (raw client)",
         f"{ratios['raw_watch_vs_on_demand_time_ratio']:.1f}x raw, {ratios['watch_vs_on_demand_time_ratio']:.1f}x official client {sized}",
         ratios["raw_watch_vs_on_demand_time_ratio"] >= 100 if at_size else None),
        (">= 50x less time than the best peer", f"{best_time:.1f}x (official client)" if best_time else "no peer ran", best_time >= 50 if best_time and at_size else None),
        *_bytes_targets(fleet, sized, at_size),
        ("initialize <= 1.2x a bare MCPServer", f"{startup['initialize_ratio']:.2f}x", startup["initialize_ratio"] <= 1.2),
        ("tools/list <= 1 KB per tool (--toolsets all)", f"{startup['bytes_per_tool']:,.0f} B per tool", startup["bytes_per_tool"] <= 1024),
        ("default tools/list <= 30 tools, <= 20 KB to the model", f"{startup['default_tools']} tools, {startup['default_model_bytes']:,} B",
         startup["default_tools"] <= 30 and startup["default_model_bytes"] <= 20_000),
    ]  # fmt: skip
    if "authz" in results:
        rows += bench_authz.targets(results["authz"])
    if "scale" in results:
        rows += _scale_targets(results["scale"], results.get("scale_100k"))
    if "soak" in results:
        v, length = results["soak"]["verdicts"], "short" if results["soak"]["plan"]["quick"] else "full"
        rows += [
            (
                f"soak ({length}): the cache equals a fresh LIST of every context and kind",
                "equal" if v["cache_equal_to_fresh_list"] else "DIFFERS",
                v["cache_equal_to_fresh_list"],
            ),
            (
                f"soak ({length}): RSS after warm-up grows <= 5%",
                f"{v['rss_growth_pct']:+.1f}%",
                v["rss_growth_within_5pct"] if length == "full" else None,
            ),
            (
                f"soak ({length}): no thread, socket, connection or child left",
                f"threads {v['threads']}, sockets {v['sockets']}, children {v['children']}",
                v["nothing_leaked"],
            ),
        ]
    return rows


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "run":
        print(__doc__)
        return 2
    quick = "--quick" in argv
    output = Path(argv[argv.index("--output") + 1]) if "--output" in argv else None
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"), "quick": quick, "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "python": platform.python_version(), "versions": _versions(),
    }  # fmt: skip
    print("== startup and tools/list")
    # 21 rounds: at 9 the ratio swung 1.10-1.39x between runs of the same code (session 12).
    results["startup"] = bench_startup.run(rounds=3 if quick else 21)
    bench_startup.report(results["startup"])
    print("== the cache at scale, in process")
    results["cache"] = _cache(quick)
    print("== authorization on cached fleet answers, in process")
    results["authz"] = bench_authz.run(per=200 if quick else 2000, rounds=21 if quick else 101)
    bench_authz.report(results["authz"])
    print("== the fleet question end to end over MCP stdio")
    results["fleet"] = bench_fleet.run(pods=300 if quick else 2000, rounds=3 if quick else 9)
    bench_fleet.report(results["fleet"])
    print(
        "== 100 contexts: sync, memory, threads, fleet questions over MCP; on demand with dead and hung contexts"
    )
    results["scale"] = bench_scale.run(
        contexts=10 if quick else 100,
        pods=100 if quick else 2000,
        rounds=5 if quick else 15,
        tries=1 if quick else 3,
    )
    bench_scale.report(results["scale"])
    if not quick:
        print("== 100 contexts x 1,000 pods (100k cached): the sync and memory targets' own size")
        results["scale_100k"] = bench_scale.run(contexts=100, pods=1000, rounds=5, tries=1)
        bench_scale.report(results["scale_100k"])
    print("== soak: churn, API server restarts, an etcd compaction; the cache vs a fresh LIST")
    # The hour the targets are judged on is `python -m benchmarks.bench_soak` alone; here a short one.
    results["soak"] = bench_soak.run(bench_soak.Plan.make(quick=True))
    bench_soak.report(results["soak"])
    print("== listing: decode and fan-out")
    results["list"] = bench_list.run()
    bench_list.report(results["list"])
    print("== targets")
    rows = targets(results)
    results["targets"] = [{"target": t, "figure": f, "met": m} for t, f, m in rows]
    for target, figure, met in rows:
        print(f"  {'met ' if met else 'MISS' if met is False else '  - '}  {target}: {figure}")
    results["seconds"] = round(time.monotonic() - started, 1)
    print(f"(took {results['seconds']} s)")
    if output is not None:
        output.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"wrote {output}")
    # Drift is a correctness failure, not a figure: the smoke run fails on it.
    return 0 if results["soak"]["verdicts"]["cache_equal_to_fresh_list"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
