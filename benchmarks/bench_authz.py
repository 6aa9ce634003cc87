"""The cost of authorization on a cached fleet answer (issue 20), in process.

3 contexts x 2,000 production-like pods (`bench_cache.pod_json`: 40 namespaces, 2% failing) are
replayed into watch stores through the reflectors' own event path, and the fleet questions are
asked through the query layer as the tools ask them (`k8s_fleet_failing_pods` with `limit` 50,
`k8s_fleet_summary`), interleaved, for:
- `server`: no access service at all (the server without --authorize-as-caller);
- `no caller`: the access service built, no acting caller (stdio, the operator's token);
- `viewer`: a caller who may list everything (its decisions warm: cached, no review sent);
- `team`: a caller who may list pods and deployments in 2 of the 40 namespaces only (warm too;
  the namespace list answered at once, as the on-demand source's TTL cache does when warm).
Each question's p50 and the ratio to `server`. The decisions are a table (no cluster is asked once
they are warm; the review call itself is tested in integration/test_authorized.py).

    .venv/bin/python -m benchmarks.bench_authz [--quick] [--output FILE.json]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.bench_cache import NAMESPACES, StoreSource, fill
from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.common.caller import Caller
from k8s_multicluster_mcp.common.errors import ClusterError
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.deadlines import Deadline
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import namespace_record
from k8s_multicluster_mcp.query import fleet
from k8s_multicluster_mcp.query.access import Access, Review
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.sources.base import Snapshot

CONTEXTS = 3
PODS = 2_000
VIEWER = Caller("viewer", user="viewer@example.com")
TEAM = Caller("team", user="team@example.com", groups=("devs",))
TEAM_NAMESPACES = ("team-10", "team-20")
"""Namespaces holding failing pods (`bench_cache.stream`: every 50th pod, in team-0/10/20/30)."""


def rbac(ctx: ContextInfo, review: Review, deadline: Deadline) -> bool:
    """The table of decisions: the viewer everything, the team its namespaces' pods and deployments."""
    if review.user == VIEWER.user:
        return True
    return review.resource in ("pods", "deployments") and review.namespace in TEAM_NAMESPACES


class Namespaces:
    """The namespace list of every context, answered at once (a warm TTL cache)."""

    def __init__(self, contexts: Sequence[ContextInfo]) -> None:
        now = datetime.now(timezone.utc)
        self.lists = {
            c.name: Snapshot(c.name, Kind.NAMESPACE, tuple(
                namespace_record(c.name, {"metadata": {"name": f"team-{i}"}}) for i in range(NAMESPACES)
            ), now, "live")
            for c in contexts
        }  # fmt: skip

    def fetch(
        self, contexts: Sequence[ContextInfo], kind: Kind, *args: Any
    ) -> dict[str, Snapshot | ClusterError]:
        return {c.name: self.lists[c.name] for c in contexts}

    def start(self) -> None: ...

    def cache_status(self) -> None: ...

    def close(self) -> None: ...


def run(per: int = PODS, rounds: int = 101) -> dict[str, Any]:
    reflectors = fill(per * CONTEXTS, CONTEXTS)
    registry = ContextRegistry(directory=None)
    registry.resolve = lambda spec=None: [r.ctx for r in reflectors]  # type: ignore[method-assign]
    source = StoreSource(reflectors)
    fanout = Fanout(timeout=5)
    access = Access(registry, fanout, Namespaces([r.ctx for r in reflectors]), ttl=3600, reviewer=rbac)  # type: ignore[arg-type]
    states = {
        "server": (ClusterState(registry, source), None),  # type: ignore[arg-type]
        "no caller": (ClusterState(registry, source, access=access), None),  # type: ignore[arg-type]
        "viewer": (ClusterState(registry, source, access=access), VIEWER),  # type: ignore[arg-type]
        "team": (ClusterState(registry, source, access=access), TEAM),  # type: ignore[arg-type]
    }
    questions: dict[str, Callable[[ClusterState], object]] = {
        "failing_pods": lambda state: fleet.failing_pods(state, limit=50),
        "summary": lambda state: fleet.summary(state),
    }
    times: dict[tuple[str, str], list[float]] = {(v, q): [] for v in states for q in questions}
    answers: dict[str, int] = {}
    for round_ in range(rounds + 1):  # the first round warms the decisions and is not counted
        order = list(states)
        order = order[round_ % len(order) :] + order[: round_ % len(order)]  # no variant always first
        for variant in order:
            state, who = states[variant]
            token = caller.current.set(who)
            try:
                for question, ask in questions.items():
                    started = time.perf_counter()
                    answer = ask(state)
                    if round_:
                        times[(variant, question)].append(time.perf_counter() - started)
                    if isinstance(answer, fleet.FailingAnswer):
                        answers[variant] = answer.total
            finally:
                caller.current.reset(token)
    fanout.close()
    out: dict[str, Any] = {"pods": per * CONTEXTS, "rounds": rounds, "failing_total": answers}
    for question in questions:
        base = statistics.median(times[("server", question)])
        for variant in states:
            p50 = statistics.median(times[(variant, question)])
            out[f"{question}_{variant.replace(' ', '_')}_p50_ms"] = p50 * 1000
            out[f"{question}_{variant.replace(' ', '_')}_ratio"] = p50 / base
    return out


def report(figures: dict[str, Any]) -> None:
    rounds = figures["rounds"]
    print(f"{figures['pods']:,} cached pods over {CONTEXTS} contexts, {rounds} interleaved rounds, p50:")
    print(f"failing pods counted: {figures['failing_total']}")
    for question in ("failing_pods", "summary"):
        cells = []
        for variant in ("server", "no caller", "viewer", "team"):
            key = f"{question}_{variant.replace(' ', '_')}"
            cells.append(f"{variant} {figures[key + '_p50_ms']:.2f} ms ({figures[key + '_ratio']:.2f}x)")
        print(f"  {question}: " + ", ".join(cells))


def targets(figures: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """The issue's target: authorization on a cached answer < 2x its p50 without, decisions warm
    (judged at 3 x 2,000 pods only)."""
    at_size = figures["pods"] >= CONTEXTS * PODS
    rows: list[tuple[str, str, bool | None]] = []
    for variant in ("viewer", "team"):
        worst = max(figures[f"{q}_{variant}_ratio"] for q in ("failing_pods", "summary"))
        rows.append((
            f"authorized cached answer ({variant}) < 2x p50 without a caller, decisions warm",
            f"{worst:.2f}x (worst of failing pods, summary) at {figures['pods']:,} pods",
            worst < 2 if at_size else None,
        ))  # fmt: skip
    return rows


def main() -> int:
    quick = "--quick" in sys.argv
    figures = run(200 if quick else PODS, 21 if quick else 101)
    report(figures)
    if "--output" in sys.argv:
        Path(sys.argv[sys.argv.index("--output") + 1]).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
