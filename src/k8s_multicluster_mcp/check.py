"""`k8s-multicluster-mcp check`: a human-readable health table of every context.

For each context: is the API server reachable, are the credentials accepted, which version does it
run, may this user list and watch pods, deployments and nodes, and how many of the registered
tools its RBAC allows (every permission a tool needs, `tools.permissions`, reviewed with
SelfSubjectAccessReview; what a tool needs on the kind a call names cannot be reviewed ahead).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from typing import TextIO

from k8s_multicluster_mcp.common.errors import ClusterTimeoutError
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.probe import CheckResult, check_context
from k8s_multicluster_mcp.model.permissions import Need
from k8s_multicluster_mcp.render.base import table
from k8s_multicluster_mcp.settings import Settings
from k8s_multicluster_mcp.tools import all_tools
from k8s_multicluster_mcp.tools.base import enabled
from k8s_multicluster_mcp.tools.permissions import needs as tool_needs


def run_check(registry: ContextRegistry, settings: Settings, out: TextIO) -> int:
    """Print the table; exit status 0 when at least one context is usable, else 1."""
    inventory = registry.inventory()
    contexts = list(inventory.contexts.values())
    if not contexts:
        out.write(registry.no_contexts_message() + "\n")
        return 1
    timeout = settings.request_timeout
    registration = settings.registration()
    tools = {
        s.name: tuple(n for n in tool_needs(s.name) if n.checkable)
        for s in all_tools()
        if enabled(s, registration)
    }
    needs = tuple(dict.fromkeys(n for wanted in tools.values() for n in wanted))
    pool = ThreadPoolExecutor(max_workers=settings.max_workers)
    futures = [pool.submit(check_context, registry, c, timeout, needs) for c in contexts]
    # Each check cuts itself off after `timeout`; a context that still has not answered (its
    # thread stuck where no deadline reaches) is reported as such and not waited for.
    waves = -(-len(contexts) // settings.max_workers)
    wait(futures, timeout=timeout * waves + 2)
    results = [
        f.result()
        if f.done()
        else CheckResult(c, error=ClusterTimeoutError(f"no complete answer within {timeout:g}s"))
        for f, c in zip(futures, contexts, strict=True)
    ]
    pool.shutdown(wait=False, cancel_futures=True)
    rows = []
    for r in results:
        access = r.access or {}
        rows.append(
            [
                r.context.name,
                r.context.file.name,
                r.context.server or "-",
                "yes" if r.reachable else "NO",
                "yes"
                if r.auth_ok
                else ("NO" if r.reachable or (r.error and r.error.status == "auth-error") else "?"),
                r.version or "-",
                access.get("pods", "-"),
                access.get("deployments", "-"),
                access.get("nodes", "-"),
                f"{r.latency_ms:.0f}ms" if r.latency_ms is not None else "-",
                _allowed_tools(tools, r.granted),
                f"{r.error.status}: {r.error.message}" if r.error else "",
            ]
        )
    headers = [
        "CONTEXT",
        "FILE",
        "SERVER",
        "REACHABLE",
        "AUTH",
        "VERSION",
        "PODS",
        "DEPLOYMENTS",
        "NODES",
        "LATENCY",
        "TOOLS",
        "ERROR",
    ]
    out.write(table(headers, rows) + "\n")
    for r in results:
        denied = _denied(tools, r.granted)
        if denied:
            out.write(f"{r.context.name}: {len(denied)} of {len(tools)} tools need what this user may not: ")
            out.write(
                "; ".join(f"{name} ({', '.join(map(str, missing))})" for name, missing in denied) + "\n"
            )
    for problem in inventory.problems:
        out.write(f"unusable kubeconfig {problem.file}: {problem.reason}\n")
    for collision in inventory.collisions:
        out.write(f"context {collision.raw_name!r} is in several files; named {', '.join(collision.names)}\n")
    usable = sum(r.usable for r in results)
    out.write(f"{usable} of {len(results)} contexts usable\n")
    out.flush()
    return 0 if usable else 1


def _denied(
    tools: dict[str, tuple[Need, ...]], granted: dict[Need, bool] | None
) -> list[tuple[str, list[Need]]]:
    """The tools whose permissions were reviewed and not all granted, with what they lack."""
    if granted is None:
        return []
    out = [(name, [n for n in wanted if not granted.get(n, True)]) for name, wanted in tools.items()]
    return [(name, missing) for name, missing in out if missing]


def _allowed_tools(tools: dict[str, tuple[Need, ...]], granted: dict[Need, bool] | None) -> str:
    """`24/26`: registered tools whose every reviewable permission this user holds."""
    if granted is None:
        return "-"
    return f"{len(tools) - len(_denied(tools, granted))}/{len(tools)}"
