"""End to end over stdio: writes of Secrets as a model would make them, dry run first. The values
given never come back (create, apply, patch, their dry runs), and a dry run creates nothing."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import anyio
import pytest
from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException

from integration.backends import Fleet
from integration.test_e2e_stdio import server_env, session, text


def test_secret_writes_never_echo_values(fleet: Fleet, namespace: str, tmp_path: Path) -> None:
    ctx = fleet.contexts[0]
    canary = f"canary{secrets.token_hex(8)}"
    manifest = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-key\n  namespace: {namespace}\n"
        f"stringData:\n  key: {canary}\n"
    )
    calls = [
        ("k8s_apply_resource", {"yaml_content": manifest, "dry_run": True}),
        ("k8s_apply_resource", {"yaml_content": manifest}),
        ("k8s_create_secret_resource", {"name": "db", "namespace": namespace, "data": {"password": canary}, "dry_run": True}),
        ("k8s_create_secret_resource", {"name": "db", "namespace": namespace, "data": {"password": canary}}),
        ("k8s_patch_resource", {"resource_type": "secret", "name": "db", "namespace": namespace,
                                "patch": {"stringData": {"password": canary + "2"}}}),
        ("k8s_get_secret_detail", {"name": "db", "namespace": namespace}),
    ]  # fmt: skip
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))
    core = CoreV1Api(fleet.admin(ctx))

    async def run() -> list[str]:
        outputs = []
        async with session(env, "--contexts", ctx, "--toolsets", "all") as client:
            for index, (tool, arguments) in enumerate(calls):
                result = await client.call_tool(tool, {"context": ctx, **arguments})
                assert not result.is_error, (tool, text(result))
                outputs.append(f"{tool}: {text(result)}{json.dumps(result.structured_content)}")
                if index == 0:
                    with pytest.raises(ApiException) as missing:
                        core.read_namespaced_secret("api-key", namespace)
                    assert missing.value.status == 404, "a dry run creates nothing"
        return outputs

    outputs = anyio.run(run)
    assert not [o.split(":")[0] for o in outputs if canary in o]
    assert "DRY RUN" in outputs[0] and "<redacted:" in outputs[1] and "<redacted:" in outputs[3]
    assert 'data.password: "<redacted: 22 bytes>" -> "<redacted: 23 bytes>"' in outputs[4]
    assert core.read_namespaced_secret("db", namespace).data["password"]
