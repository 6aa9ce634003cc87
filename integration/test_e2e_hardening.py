"""End to end, hostile and unlucky: the installed console script with a hung credential plugin in
one context keeps answering for the others, ends within 2 s of being told to and leaves no child
behind; an HTTP server bound beyond loopback demands its token and checks the Host header."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from integration import hostile, seed
from integration.backends import Fleet
from integration.controlplane.process import free_port
from integration.test_e2e_stdio import SCRIPT, server_env, session, text

MARKER = "sleep 8124"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}


@pytest.fixture
def with_hung_context(fleet: Fleet, tmp_path: Path) -> Path:
    """The fleet's kubeconfigs plus `eks-hung`, whose exec plugin never returns."""
    directory = tmp_path / "kube"
    shutil.copytree(fleet.kubeconfig_dir, directory)
    plugin = hostile.hung_plugin(tmp_path / "bin", seconds=int(MARKER.split()[1]))
    hostile.kubeconfig(directory, "eks-hung", "https://127.0.0.1:9", user=hostile.exec_user(plugin))
    return directory


def test_a_hung_plugin_costs_its_context_only(
    fleet: Fleet, namespace: str, with_hung_context: Path, tmp_path: Path
) -> None:
    for index, ctx in enumerate(fleet.contexts):
        seed.create_pod(fleet.admin(ctx), namespace, f"web-{index}")
    env = server_env(
        tmp_path, KUBECONFIG_DIR=str(with_hung_context), K8S_MCP_REQUEST_TIMEOUT="2", K8S_MCP_CACHE_TTL="0"
    )
    allow = ",".join([*fleet.contexts, "eks-hung"])

    async def run() -> None:
        async with session(env, "--contexts", allow, "--max-workers", "3") as client:
            # The first call of a process loads the toolsets and the kubernetes client (seconds on
            # a loaded machine, more than this test's 2 s timeout); what is measured is after that.
            await client.call_tool("k8s_get_resources", {"kind": "pods", "namespace": namespace})
            for _ in range(5):
                started = time.monotonic()
                result = await client.call_tool("k8s_get_resources", {"kind": "pods", "namespace": namespace})
                elapsed = time.monotonic() - started
                lines = text(result).splitlines()
                assert lines[0].startswith("3 of 4 clusters answered"), lines
                assert lines[1].startswith("  eks-hung: timeout — "), lines
                assert sum(f"web-{i}" in text(result) for i in range(3)) == 3
                assert elapsed < 2 + 1.5

    anyio.run(run)
    assert hostile.wait_until(lambda: not hostile.processes_running(MARKER), timeout=2)


def stop(proc: subprocess.Popen[str], how: str) -> float:
    """Tell the server to stop as an MCP client or a service manager would; seconds until it ended."""
    started = time.monotonic()
    if how == "stdin closed":
        assert proc.stdin is not None
        proc.stdin.close()
        proc.stdin = None  # so communicate() does not flush the closed pipe
    else:
        proc.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGINT)
    proc.wait(timeout=30)
    return time.monotonic() - started


@pytest.mark.parametrize("how", ["stdin closed", "SIGTERM", "SIGINT"])
def test_the_server_ends_within_2s_and_leaves_no_child(
    with_hung_context: Path, tmp_path: Path, how: str
) -> None:
    env = server_env(tmp_path, KUBECONFIG_DIR=str(with_hung_context), K8S_MCP_REQUEST_TIMEOUT="2")
    proc = subprocess.Popen(
        [str(SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None

    def send(message: dict[str, object]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()

    try:
        send(INITIALIZE)
        assert json.loads(proc.stdout.readline())["id"] == 1
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        # A question that starts the hung plugin, and one still in flight when the stop comes.
        send(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "k8s_get_namespaces", "arguments": {}},
            }
        )
        assert json.loads(proc.stdout.readline())["id"] == 2
        send(
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "k8s_get_nodes", "arguments": {}},
            }
        )
        assert hostile.wait_until(lambda: bool(hostile.processes_running(MARKER)), timeout=5)
        elapsed = stop(proc, how)
    finally:
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate()
    if "after the stop signal; ending now" in stderr:
        # The stop got stuck and `cli._force_exit` ended it: keep the threads' tracebacks it
        # printed where the next engineer will see them (the cause is not known yet).
        warnings.warn(f"{how}: the stop watchdog fired:\n{stderr[-6000:]}", stacklevel=1)
    assert elapsed < 2.0, f"{how}: the process took {elapsed:.2f}s to end"
    assert proc.returncode == 0
    assert not hostile.processes_running(MARKER), "a credential plugin outlived the server"


def test_http_beyond_loopback_needs_the_token_and_a_known_host(fleet: Fleet, tmp_path: Path) -> None:
    token = "t0ken-" + "x" * 26
    (tmp_path / "token").write_text(token + "\n")
    port = free_port()
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))
    server = subprocess.Popen(
        [str(SCRIPT), "--transport", "http", "--host", "0.0.0.0", "--port", str(port),
         "--auth-token-file", str(tmp_path / "token"), "--allowed-hosts", "mcp.example.test"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/mcp"
    accept = {"Accept": "application/json, text/event-stream"}
    try:
        assert hostile.wait_until(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, timeout=30)
        assert httpx2.post(url, json=INITIALIZE, headers=accept).status_code == 401
        wrong = {**accept, "Authorization": "Bearer " + "y" * len(token)}
        assert httpx2.post(url, json=INITIALIZE, headers=wrong).status_code == 401
        bearer = {**accept, "Authorization": f"Bearer {token}"}
        rebinding = httpx2.post(url, json=INITIALIZE, headers={**bearer, "Host": "evil.example"})
        assert rebinding.status_code == 421
        assert (
            httpx2.post(url, json=INITIALIZE, headers={**bearer, "Host": "mcp.example.test"}).status_code
            == 200
        )

        async def run() -> None:
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                result = await client.call_tool("k8s_get_namespaces", {"context": fleet.contexts[0]})
                assert text(result).startswith("1 of 1 cluster answered")

        anyio.run(run)
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        assert time.monotonic() - started < 2.0
    finally:
        if server.poll() is None:
            server.kill()
        out, err = server.communicate()
    assert out == ""
    assert "to the network: anyone with the bearer token can read" in err
    assert token not in err
