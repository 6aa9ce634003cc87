"""End to end: who a request acts as with --authorize-as-caller (issue 20 item 1). Over HTTP with
the official MCP client, a `--auth-token-map` token and an OIDC token each set their own caller:
the access log names the subject and the audit line of a dry-run write names the Kubernetes user
and groups (mapped from the token's claims with their prefixes, or from the map's entry). Both
places that check bearer tokens are covered: the OIDC resource server (static tokens beside the
issuer's) and the plain bearer check of a server without an issuer, where the map is re-read
when it changes."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from kubernetes.client import RbacAuthorizationV1Api
from kubernetes.client.exceptions import ApiException
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from integration import hostile
from integration.backends import Fleet
from integration.controlplane.process import free_port
from integration.test_e2e_hardening import INITIALIZE
from integration.test_e2e_stdio import SCRIPT, server_env, text
from tests.oidc_issuer import Issuer

ALICE = "alice-map-token-0123456789"
CAROL = "carol-map-token-0123456789"
OPERATOR_TOKEN = "operator-" + "y" * 24
BINDING = "k8s-mcp-e2e-callers"
USERS = ("alice@example.com", "oidc:bob@example.com", "carol")


@pytest.fixture
def callers_may_write(fleet: Fleet) -> Iterator[str]:
    """The callers may create namespaces in the first cluster, so a dry-run write succeeds whether
    it is sent as the caller (impersonated) or as the server."""
    context = fleet.contexts[0]
    rbac = RbacAuthorizationV1Api(fleet.admin(context))
    body = {
        "metadata": {"name": BINDING},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u} for u in USERS],
    }
    rbac.create_cluster_role_binding(body)
    try:
        yield context
    finally:
        try:
            rbac.delete_cluster_role_binding(BINDING)
        except ApiException as exc:  # pragma: no cover - already gone
            if exc.status != 404:
                raise


def _start(fleet: Fleet, tmp_path: Path, context: str, *flags: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))
    server = subprocess.Popen(
        [str(SCRIPT), "--transport", "http", "--port", str(port), "--contexts", context,
         "--authorize-as-caller", "--log-level", "INFO", "--request-timeout", "30", "--toolsets", "all",
         *[f.replace("{resource}", resource) for f in flags]],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert hostile.wait_until(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, timeout=30)
    return server, resource


def _write_as(resource: str, token: str, namespace: str) -> None:
    """A dry-run namespace creation over HTTP with the official client, carrying `token`."""

    async def run() -> None:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
            Client(streamable_http_client(resource, http_client=http)) as client,
        ):
            written = await client.call_tool("k8s_create_ns", {"name": namespace, "dry_run": True})
            assert not written.is_error, text(written)

    anyio.run(run)


def _status(resource: str, token: str) -> int:
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {token}"}
    return httpx2.post(resource, json=INITIALIZE, headers=headers).status_code


def _stop(server: subprocess.Popen[str]) -> str:
    server.terminate()
    out, err = server.communicate(timeout=20)
    assert out == ""
    return err


def _audit(err: str, namespace: str) -> str:
    (line,) = [line for line in err.splitlines() if "k8s_create_ns" in line and namespace in line]
    return line


def test_map_and_oidc_tokens_each_set_their_caller(
    fleet: Fleet, tmp_path: Path, callers_may_write: str
) -> None:
    issuer = Issuer()
    token_map = tmp_path / "callers.yaml"
    token_map.write_text(f"- token: {ALICE}\n  user: alice@example.com\n  groups: [team-a, dev]\n")
    (tmp_path / "operator").write_text(OPERATOR_TOKEN + "\n")
    server, resource = _start(
        fleet, tmp_path, callers_may_write,
        "--oidc-issuer", issuer.url, "--oidc-audience", "{resource}", "--auth-token-map", str(token_map),
        "--user-claim", "email", "--user-prefix", "oidc:", "--groups-prefix", "oidc:",
    )  # fmt: skip
    try:
        bob = issuer.token(resource, sub="bob", email="bob@example.com", groups=["sre"])
        _write_as(resource, ALICE, "caller-e2e-map")
        _write_as(resource, bob, "caller-e2e-oidc")
        assert _status(resource, issuer.token(resource, sub="nomail")) == 401, "no user claim: refused"
        assert _status(resource, ALICE + "x") == 401
    finally:
        err = _stop(server)
        issuer.close()
    assert "by sub=alice@example.com user=alice@example.com groups=team-a,dev" in _audit(
        err, "caller-e2e-map"
    )
    assert "by sub=bob email=bob@example.com user=oidc:bob@example.com groups=oidc:sre" in _audit(
        err, "caller-e2e-oidc"
    )
    assert " 200 " in err and " alice@example.com\n" in err and " bob\n" in err, "the access log names them"
    assert (
        "bearer token of sub=nomail refused: --authorize-as-caller takes the Kubernetes user from the 'email' claim"
        in err
    )
    assert ALICE not in err


def test_a_token_map_alone_guards_the_server_and_is_re_read(
    fleet: Fleet, tmp_path: Path, callers_may_write: str
) -> None:
    token_map = tmp_path / "callers.yaml"
    token_map.write_text(f"- token: {ALICE}\n  user: alice@example.com\n  groups: [team-a]\n")
    (tmp_path / "operator").write_text(OPERATOR_TOKEN + "\n")
    server, resource = _start(
        fleet, tmp_path, callers_may_write,
        "--auth-token-map", str(token_map), "--auth-token-file", str(tmp_path / "operator"),
    )  # fmt: skip
    try:
        assert _status(resource, CAROL) == 401
        _write_as(resource, ALICE, "caller-e2e-alice")
        _write_as(resource, OPERATOR_TOKEN, "caller-e2e-operator")
        token_map.write_text(f"- token: {CAROL}\n  user: carol\n")  # alice revoked, carol added
        assert _status(resource, ALICE) == 401
        _write_as(resource, CAROL, "caller-e2e-carol")
    finally:
        err = _stop(server)
    assert "by sub=alice@example.com user=alice@example.com groups=team-a" in _audit(err, "caller-e2e-alice")
    assert _audit(err, "caller-e2e-operator").endswith(" (dry run) by sub=operator"), "the server's identity"
    assert "by sub=carol user=carol" in _audit(err, "caller-e2e-carol")
    assert f"--auth-token-map: {token_map} re-read: 1 entries" in err
    assert " alice@example.com\n" in err and " operator\n" in err and " carol\n" in err
    assert ALICE not in err and CAROL not in err and OPERATOR_TOKEN not in err
