"""The canary: a unique string in a Secret created directly, in one applied kubectl-style (its
last-applied annotation holds the values too), in sensitive-named env literals of a pod, a
deployment and a ReplicaSet, and in a custom object's embedded Secret; every read tool that could
show them is called through the console script over stdio, and the canary appears in no text
and no structured content, unless the server was started with --allow-secret-values."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import anyio
from kubernetes.client import AppsV1Api, CoreV1Api

from integration import seed
from integration.backends import Fleet
from integration.test_e2e_stdio import server_env, session, text

GROUP = f"canary-{secrets.token_hex(3)}.example.com"


def _seed(fleet: Fleet, namespace: str, canary: str) -> str:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    seed.create_secret(api, namespace, "direct", {"password": canary, "user": "app"})
    seed.create_secret(api, namespace, "applied", {"token": canary}, applied=True)
    env = [{"name": "DB_PASSWORD", "value": canary}, {"name": "api_token", "value": canary},
           {"name": "MODE", "value": "fast"}]  # fmt: skip
    container = {"name": "app", "image": "shop:1", "env": env}
    CoreV1Api(api).create_namespaced_pod(
        namespace,
        {"metadata": {"name": "shop-1", "labels": {"app": "shop"}},
         "spec": {"containers": [container], "schedulingGates": [{"name": "k8s-multicluster-mcp.test/seeded"}]}},
    )  # fmt: skip
    template = {"metadata": {"labels": {"app": "shop"}}, "spec": {"containers": [container]}}
    deployment = AppsV1Api(api).create_namespaced_deployment(
        namespace, {"metadata": {"name": "shop"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "shop"}}, "template": template}}
    )  # fmt: skip
    AppsV1Api(api).create_namespaced_replica_set(
        namespace,
        {"metadata": {"name": "shop-1", "labels": {"app": "shop"}, "annotations": {"deployment.kubernetes.io/revision": "1"},
                      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop",
                                           "uid": deployment.metadata.uid, "controller": True}]},
         "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "shop"}}, "template": template}},
    )  # fmt: skip
    seed.create_crd(api, group=GROUP, kind="Vault", plural="vaults")
    embedded = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "inner"},
        "stringData": {"key": canary},
    }
    seed.create_custom_object(
        api, namespace, "vault-1", {"template": embedded}, group=GROUP, kind="Vault", plural="vaults"
    )
    return ctx


def _calls(ctx: str, namespace: str) -> list[tuple[str, dict[str, Any]]]:
    scope = {"context": ctx, "namespace": namespace}
    calls: list[tuple[str, dict[str, Any]]] = []
    for kind in ("secrets", "Secret", "secret", "SECRETS", "secrets.v1"):
        calls.append(("k8s_get_resources", {"kind": kind, **scope}))
    for name in ("direct", "applied"):
        for kind in ("Secret", "secrets", "SeCrEt"):
            for output in ("yaml", "json", None):
                calls.append(("k8s_get_resource", {"kind": kind, "name": name, **scope, "output": output}))
            calls.append(("k8s_describe", {"resource_type": kind, "name": name, **scope}))
        calls.append(("k8s_get_secret_detail", {"name": name, **scope}))
    calls.append(("k8s_describe", {"resource_type": "secrets", **scope}))
    calls.append(("k8s_list_secret", scope))
    for kind, name in (
        ("pod", "shop-1"),
        ("deployment", "shop"),
        ("replicasets.apps", "shop-1"),
        ("vaults", "vault-1"),
    ):
        for output in ("yaml", "json", None):
            calls.append(("k8s_get_resource", {"kind": kind, "name": name, **scope, "output": output}))
        calls.append(("k8s_describe", {"resource_type": kind, "name": name, **scope}))
    calls += [
        ("k8s_describe", {"resource_type": "pods", "selector": "app=shop", **scope}),
        ("k8s_get_resources", {"kind": "pods", **scope}),
        ("k8s_get_resources", {"kind": "vaults", **scope}),
        ("k8s_get_events", scope),
        ("k8s_fleet_find_pods", {"context": ctx, "namespace": namespace}),
        ("k8s_fleet_compare_deployment", {"name": "shop", "namespace": namespace, "context": ctx}),
        ("k8s_rollout_history", {"resource_type": "deployment", "name": "shop", **scope}),
        ("k8s_diagnose_application", {"app_name": "shop", **scope}),
        ("k8s_list_configmap", scope),
    ]
    return [(tool, {k: v for k, v in args.items() if v is not None}) for tool, args in calls]


def _outputs(
    env: dict[str, str], calls: list[tuple[str, dict[str, Any]]], *flags: str
) -> list[tuple[str, str]]:
    """Every call's text and structured content, serialized."""

    async def run() -> list[tuple[str, str]]:
        out = []
        async with session(env, "--toolsets", "all", *flags) as client:  # config: the secret tools
            for tool, arguments in calls:
                result = await client.call_tool(tool, arguments)
                assert not result.is_error, (tool, arguments, text(result))
                out.append((f"{tool} {arguments}", text(result) + json.dumps(result.structured_content)))
        return out

    return anyio.run(run)


def test_secret_values_never_reach_the_model(fleet: Fleet, namespace: str, tmp_path: Path) -> None:
    canary = f"canary{secrets.token_hex(8)}"
    ctx = _seed(fleet, namespace, canary)
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))
    calls = _calls(ctx, namespace)
    outputs = _outputs(env, calls, "--contexts", ctx)
    leaks = [call for call, output in outputs if canary in output]
    assert not leaks, leaks
    joined = "\n".join(output for _, output in outputs)
    assert "<redacted: 22 bytes>" in joined  # the direct secret's password, by its decoded size
    assert "<masked: name looks sensitive>" in joined
    assert "last-applied-configuration" not in joined
    assert "MODE" in joined and "fast" in joined, "env names and harmless values stay"

    shown = _outputs(env, calls, "--contexts", ctx, "--allow-secret-values")
    revealed = {call.split(" ")[0] for call, output in shown if canary in output}
    assert {"k8s_get_secret_detail", "k8s_get_resource", "k8s_describe"} <= revealed
    detail = next(o for c, o in shown if c.startswith("k8s_get_secret_detail {'name': 'direct'"))
    assert f"password: {canary}" in detail, "decoded, with the operator's flag"
    assert "last-applied-configuration" not in "\n".join(o for _, o in shown)


def test_the_sensitive_env_pattern_is_the_operators(fleet: Fleet, namespace: str, tmp_path: Path) -> None:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    env = [{"name": "LICENSE_CODE", "value": "lic-123"}, {"name": "DB_PASSWORD", "value": "pw-456"}]
    CoreV1Api(api).create_namespaced_pod(
        namespace, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x", "env": env}],
                                                        "schedulingGates": [{"name": "k8s-multicluster-mcp.test/seeded"}]}}
    )  # fmt: skip
    server = server_env(
        tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir), K8S_MCP_SENSITIVE_ENV_PATTERN="license"
    )
    [(_, output)] = _outputs(
        server,
        [("k8s_get_resource", {"kind": "pod", "name": "p", "namespace": namespace, "output": "json"})],
        "--contexts",
        ctx,
    )
    assert "lic-123" not in output and "pw-456" in output
