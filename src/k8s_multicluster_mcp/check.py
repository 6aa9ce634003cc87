"""`k8s-multicluster-mcp check`: a human-readable health table of every context.

For each context: is the API server reachable, are the credentials accepted, which version does it
run, and may this user list and watch pods, deployments and nodes (SelfSubjectAccessReview).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TextIO

from kubernetes.client import AuthorizationV1Api, VersionApi
from kubernetes.client.models import (
    V1ResourceAttributes,
    V1SelfSubjectAccessReview,
    V1SelfSubjectAccessReviewSpec,
)

from k8s_multicluster_mcp.common.errors import ClusterError, ClusterTimeoutError
from k8s_multicluster_mcp.kube import deadlines
from k8s_multicluster_mcp.kube.apierrors import classify
from k8s_multicluster_mcp.kube.contexts import ContextInfo, ContextRegistry, capture_client_errors
from k8s_multicluster_mcp.render.base import table
from k8s_multicluster_mcp.settings import Settings

CHECKED = (("pods", "", True), ("deployments", "apps", True), ("nodes", "", False))


@dataclass
class CheckResult:
    context: ContextInfo
    reachable: bool = False
    auth_ok: bool = False
    version: str | None = None
    access: dict[str, str] | None = None
    latency_ms: float | None = None
    error: ClusterError | None = None

    @property
    def usable(self) -> bool:
        return self.reachable and self.auth_ok


def check_context(registry: ContextRegistry, ctx: ContextInfo, timeout: float) -> CheckResult:
    """Every probe of one context, all within one deadline of `timeout` seconds."""
    result = CheckResult(ctx)
    with capture_client_errors() as exec_errors, deadlines.deadline(timeout) as deadline:
        try:
            client = registry.api_client(ctx)
            started = time.perf_counter()
            info = VersionApi(client).get_code(_request_timeout=(timeout, timeout))
            result.latency_ms = (time.perf_counter() - started) * 1000
            result.reachable = True
            result.version = info.git_version
            authz = AuthorizationV1Api(client)
            access: dict[str, str] = {}
            for resource, group, namespaced in CHECKED:
                allowed = [v for v in ("list", "watch") if _allowed(authz, v, resource, group, None, timeout)]
                if not allowed and namespaced and ctx.namespace:
                    allowed = [
                        v
                        for v in ("list", "watch")
                        if _allowed(authz, v, resource, group, ctx.namespace, timeout)
                    ]
                    if allowed:
                        allowed[-1] += f" (ns {ctx.namespace} only)"
                access[resource] = "+".join(allowed) or "no"
            result.auth_ok = True
            result.access = access
        except Exception as exc:
            result.error = (
                ClusterTimeoutError(f"no complete answer within {timeout:g}s")
                if deadline.expired
                else classify(exc, exec_errors)
            )
            if result.error.status in ("auth-error", "forbidden"):
                result.reachable = result.reachable or result.error.status == "forbidden"
    return result


def _allowed(
    authz: AuthorizationV1Api, verb: str, resource: str, group: str, namespace: str | None, timeout: float
) -> bool:
    """SelfSubjectAccessReview: may this user `verb` `resource` (cluster-wide, or in `namespace`)?"""
    attributes = V1ResourceAttributes(verb=verb, resource=resource, group=group, namespace=namespace)
    review = V1SelfSubjectAccessReview(spec=V1SelfSubjectAccessReviewSpec(resource_attributes=attributes))
    answer = authz.create_self_subject_access_review(body=review, _request_timeout=(timeout, timeout))
    return bool(answer.status and answer.status.allowed)


def run_check(registry: ContextRegistry, settings: Settings, out: TextIO) -> int:
    """Print the table; exit status 0 when at least one context is usable, else 1."""
    inventory = registry.inventory()
    contexts = list(inventory.contexts.values())
    if not contexts:
        out.write(registry.no_contexts_message() + "\n")
        return 1
    timeout = settings.request_timeout
    pool = ThreadPoolExecutor(max_workers=settings.max_workers)
    futures = [pool.submit(check_context, registry, c, timeout) for c in contexts]
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
        "ERROR",
    ]
    out.write(table(headers, rows) + "\n")
    for problem in inventory.problems:
        out.write(f"unusable kubeconfig {problem.file}: {problem.reason}\n")
    for collision in inventory.collisions:
        out.write(f"context {collision.raw_name!r} is in several files; named {', '.join(collision.names)}\n")
    usable = sum(r.usable for r in results)
    out.write(f"{usable} of {len(results)} contexts usable\n")
    out.flush()
    return 0 if usable else 1
