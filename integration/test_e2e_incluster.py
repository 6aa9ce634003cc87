"""End to end: the server's own cluster as its in-cluster identity. A ServiceAccount bound to a
read-only ClusterRole (what the built-in `view` grants for these kinds: `view` is aggregated by
the controller manager, which this control plane runs only with real nodes) gets a token through
the TokenRequest API; the token, the cluster's CA
and the namespace are mounted the way a pod sees them (a directory given by
--service-account-dir); `KUBERNETES_SERVICE_HOST`/`_PORT` name the API server. No kubeconfig."""

from __future__ import annotations

import base64
import contextlib
import time
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import yaml
from kubernetes.client import CoreV1Api, RbacAuthorizationV1Api

from integration.backends import Fleet
from integration.test_e2e_stdio import server_env, session, text

NAMESPACE = "k8s-mcp-incluster"


def test_the_service_account_is_the_in_cluster_context_and_answers_fleet_questions(
    fleet: Fleet, tmp_path: Path
) -> None:
    context = fleet.contexts[0]
    api = fleet.admin(context)
    core, rbac = CoreV1Api(api), RbacAuthorizationV1Api(api)
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    try:
        core.create_namespaced_service_account(NAMESPACE, {"metadata": {"name": "mcp"}})
        rbac.create_cluster_role(
            {
                "metadata": {"name": "k8s-mcp-incluster-view"},
                "rules": [
                    {
                        "apiGroups": ["", "apps"],
                        "resources": ["pods", "deployments", "nodes", "namespaces"],
                        "verbs": ["get", "list", "watch"],
                    }
                ],
            }
        )
        rbac.create_cluster_role_binding({
            "metadata": {"name": "k8s-mcp-incluster-view"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "k8s-mcp-incluster-view"},
            "subjects": [{"kind": "ServiceAccount", "name": "mcp", "namespace": NAMESPACE}],
        })  # fmt: skip
        token = core.create_namespaced_service_account_token(
            "mcp", NAMESPACE, {"spec": {"expirationSeconds": 3600}}
        ).status.token
        config = yaml.safe_load((fleet.kubeconfig_dir / f"{context}.yaml").read_text())
        cluster = config["clusters"][0]["cluster"]
        mount = tmp_path / "serviceaccount"
        mount.mkdir()
        (mount / "token").write_text(token)
        (mount / "ca.crt").write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        (mount / "namespace").write_text(NAMESPACE)
        server = urlsplit(cluster["server"])
        empty = tmp_path / "no-kubeconfigs"
        empty.mkdir()
        env = server_env(tmp_path, KUBERNETES_SERVICE_HOST=str(server.hostname),
                         KUBERNETES_SERVICE_PORT=str(server.port))  # fmt: skip

        async def ask() -> tuple[str, str]:
            async with session(
                env, "--kubeconfig-dir", str(empty), "--service-account-dir", str(mount)
            ) as client:
                contexts = text(await client.call_tool("k8s_get_contexts", {}))
                deadline = time.monotonic() + 30
                while True:  # RBAC sees the new binding a moment after it is made
                    summary = text(await client.call_tool("k8s_fleet_summary", {}))
                    if summary.startswith("1 of 1 cluster answered") or time.monotonic() > deadline:
                        return contexts, summary
                    await anyio.sleep(0.5)

        contexts, summary = anyio.run(ask)
        assert "in-cluster" in contexts and f"https://{server.hostname}:{server.port}" in contexts
        assert summary.startswith("1 of 1 cluster answered (live"), summary
        assert "in-cluster" in summary
    finally:
        core.delete_namespace(NAMESPACE)
        for delete in (rbac.delete_cluster_role_binding, rbac.delete_cluster_role):
            with contextlib.suppress(Exception):  # not made: the test failed before
                delete("k8s-mcp-incluster-view")
