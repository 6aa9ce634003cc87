"""Probe one context for `check`: reachable, credentials accepted, server version, and whether
this user may list and watch pods, deployments and nodes (SelfSubjectAccessReview), all within
one deadline."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kubernetes.client import AuthorizationV1Api, VersionApi
from kubernetes.client.models import (
    V1NonResourceAttributes,
    V1ResourceAttributes,
    V1SelfSubjectAccessReview,
    V1SelfSubjectAccessReviewSpec,
)

from k8s_multicluster_mcp.common.errors import ClusterError, ClusterTimeoutError
from k8s_multicluster_mcp.kube import deadlines
from k8s_multicluster_mcp.kube.apierrors import classify
from k8s_multicluster_mcp.kube.client import capture_client_errors
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.permissions import Need

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
    granted: dict[Need, bool] | None = None
    """Each permission asked for (`needs`): granted cluster-wide or in the context's namespace."""

    @property
    def usable(self) -> bool:
        return self.reachable and self.auth_ok


def check_context(
    registry: ContextRegistry, ctx: ContextInfo, timeout: float, needs: tuple[Need, ...] = ()
) -> CheckResult:
    """Every probe of one context, all within one deadline of `timeout` seconds; `needs`: the
    permissions of the registered tools, each reviewed (SelfSubjectAccessReview)."""
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
            result.granted = {need: _granted(authz, need, ctx.namespace, timeout) for need in needs}
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
    authz: AuthorizationV1Api,
    verb: str,
    resource: str,
    group: str,
    namespace: str | None,
    timeout: float,
    subresource: str = "",
) -> bool:
    """SelfSubjectAccessReview: may this user `verb` `resource` (cluster-wide, or in `namespace`)?"""
    attributes = V1ResourceAttributes(
        verb=verb, resource=resource, subresource=subresource or None, group=group, namespace=namespace
    )
    review = V1SelfSubjectAccessReview(spec=V1SelfSubjectAccessReviewSpec(resource_attributes=attributes))
    answer = authz.create_self_subject_access_review(body=review, _request_timeout=(timeout, timeout))
    return bool(answer.status and answer.status.allowed)


def _granted(authz: AuthorizationV1Api, need: Need, namespace: str | None, timeout: float) -> bool:
    """May this user do `need`: cluster-wide, or (a namespaced resource) in `namespace`?"""
    if need.url:
        url = V1NonResourceAttributes(verb=need.verb, path=need.resource)
        spec = V1SelfSubjectAccessReviewSpec(non_resource_attributes=url)
        answer = authz.create_self_subject_access_review(
            body=V1SelfSubjectAccessReview(spec=spec), _request_timeout=(timeout, timeout)
        )
        return bool(answer.status and answer.status.allowed)
    resource, _, subresource = need.resource.partition("/")
    wheres = (None, namespace) if namespace else (None,)
    return any(_allowed(authz, need.verb, resource, need.group, w, timeout, subresource) for w in wheres)


__all__ = ["CheckResult", "check_context"]
