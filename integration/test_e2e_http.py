"""End to end over streamable HTTP (`--transport http`), and `python -m k8s_multicluster_mcp`."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import anyio
from mcp import Client

from integration.backends import Fleet
from integration.controlplane.process import free_port
from integration.test_e2e_health import get
from integration.test_e2e_stdio import DEFAULT_TOOLS, SCRIPT, server_env, text


def test_streamable_http_transport(fleet: Fleet, tmp_path: Path) -> None:
    port = free_port()
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))
    server = subprocess.Popen(
        [str(SCRIPT), "--transport", "http", "--port", str(port), "--contexts", ",".join(fleet.contexts)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)

        async def run() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                assert {t.name for t in (await client.list_tools()).tools} == DEFAULT_TOOLS
                result = await client.call_tool("k8s_get_namespaces", {})
                assert text(result).startswith("3 of 3 clusters answered")

        anyio.run(run)
    finally:
        server.terminate()
        out, err = server.communicate(timeout=20)
    assert out == ""
    assert f"serving streamable HTTP on http://127.0.0.1:{port}/mcp" in err


def test_python_dash_m_runs_the_same_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "k8s_multicluster_mcp", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("k8s-multicluster-mcp ")


def _post(port: int, body: dict[str, object]) -> dict[str, object]:
    """One JSON-RPC request over streamable HTTP with no session: the answer (JSON or one SSE event)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/mcp",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                 "MCP-Protocol-Version": "2025-06-18"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310
        text = response.read().decode()
    data = [line[5:] for line in text.splitlines() if line.startswith("data:")]
    return dict(json.loads(data[0] if data else text))


def _started(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def test_stateless_replicas_answer_alternate_requests_and_sigterm_fails_readiness_first(
    fleet: Fleet, tmp_path: Path
) -> None:
    """Two `--stateless` processes answer a client's requests alternately (no session affinity);
    SIGTERM turns /readyz 503 while the server still answers, and the process ends within its
    --shutdown-grace."""
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))
    ports = [(free_port(), free_port()) for _ in range(2)]
    replicas = [
        subprocess.Popen(
            [
                str(SCRIPT),
                "--transport",
                "http",
                "--stateless",
                "--port",
                str(port),
                "--health-port",
                str(health),
                "--shutdown-grace",
                "4",
                "--contexts",
                ",".join(fleet.contexts),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port, health in ports
    ]
    try:
        for (port, _), replica in zip(ports, replicas, strict=True):
            _started(port, replica)
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "test", "version": "0"}}}  # fmt: skip
        assert "serverInfo" in _post(ports[0][0], init)["result"]  # type: ignore[operator]
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "k8s_get_namespaces", "arguments": {}}}  # fmt: skip
        for port, _ in (ports[1], ports[0]):
            result = _post(port, call)["result"]
            assert result["content"][0]["text"].startswith("3 of 3 clusters answered")  # type: ignore[index]

        port, health = ports[0]
        assert get(health, "/readyz")[0] == 200
        replicas[0].send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        status, body = get(health, "/readyz")
        assert (status, json.loads(body)["reason"]) == (503, "shutting down")
        assert _post(port, call)["result"], "still answering while load balancers catch up"
        replicas[0].wait(timeout=15)
        assert time.monotonic() - stopped_at < 8, "ended within --shutdown-grace (plus process exit)"
    finally:
        for replica in replicas:
            replica.terminate()
            replica.communicate(timeout=20)
