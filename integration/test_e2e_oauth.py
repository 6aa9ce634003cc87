"""End to end: `--oidc-issuer` makes the HTTP server an OAuth 2.1 resource server. A local OIDC
issuer (keys from `cryptography`, JWKS on loopback) mints the tokens; the official MCP client
calls the tools over HTTP with them."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from integration import hostile
from integration.backends import Fleet
from integration.controlplane.process import free_port
from integration.test_e2e_hardening import INITIALIZE
from integration.test_e2e_stdio import SCRIPT, server_env, text
from k8s_multicluster_mcp.oidc import COOLDOWN
from tests.oidc_issuer import Issuer


def test_oauth_resource_server_end_to_end(fleet: Fleet, tmp_path: Path) -> None:
    issuer = Issuer()
    static = "operator-" + "x" * 24
    (tmp_path / "token").write_text(static + "\n")
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    metadata = f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir), K8S_MCP_OIDC_AUDIENCE=resource)
    server = subprocess.Popen(
        [str(SCRIPT), "--transport", "http", "--port", str(port), "--contexts", fleet.contexts[0],
         "--oidc-issuer", issuer.url, "--oidc-scopes", "k8s", "--auth-token-file", str(tmp_path / "token"),
         "--log-level", "INFO", "--request-timeout", "30", "--toolsets", "all"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    accept = {"Accept": "application/json, text/event-stream"}
    try:
        assert hostile.wait_until(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, timeout=30)
        refused = httpx2.post(resource, json=INITIALIZE, headers=accept)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer ")
        assert f'resource_metadata="{metadata}"' in refused.headers["www-authenticate"]
        for url in (metadata, f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource"):
            document = httpx2.get(url).json()
            assert document["resource"] == resource
            assert [s.rstrip("/") for s in document["authorization_servers"]] == [issuer.url]
            assert document["scopes_supported"] == ["k8s"]

        def status(token: str) -> int:
            headers = {**accept, "Authorization": f"Bearer {token}"}
            return httpx2.post(resource, json=INITIALIZE, headers=headers).status_code

        assert status(issuer.token("http://elsewhere/mcp", scope="k8s")) == 401
        assert status(issuer.token(resource, scope="k8s", exp=int(time.time()) - 3600)) == 401
        assert status(issuer.token(resource, scope="other")) == 403
        assert status(static) == 200

        async def run(token: str) -> None:
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
                Client(streamable_http_client(resource, http_client=http)) as client,
            ):
                result = await client.call_tool("k8s_get_namespaces", {})
                assert text(result).startswith("1 of 1 cluster answered")
                written = await client.call_tool("k8s_create_ns", {"name": "oauth-e2e", "dry_run": True})
                assert not written.is_error, text(written)

        anyio.run(run, issuer.token(resource, scope="k8s", email="alice@example.com", groups=["sre"]))
        issuer.rotate("key-2")
        rotated = issuer.token(resource, kid="key-2", scope="k8s", sub="bob")
        time.sleep(COOLDOWN)  # unknown key ids refetch the keys at most once per cooldown
        anyio.run(run, rotated)
    finally:
        server.terminate()
        out, err = server.communicate(timeout=20)
        issuer.close()
    assert out == ""
    audit = [line for line in err.splitlines() if "k8s_create_ns" in line and "oauth-e2e" in line]
    assert len(audit) == 2, err
    assert "by sub=alice email=alice@example.com groups=sre" in audit[0]
    assert "by sub=bob" in audit[1]
    assert "POST /mcp 401" in err and "POST /mcp 200" in err and " alice" in err and " operator" in err
    assert static not in err
