"""End to end over streamable HTTP (`--transport http`), and `python -m k8s_multicluster_mcp`."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
from mcp import Client

from integration.backends import Fleet
from integration.test_e2e_stdio import SCRIPT, TOOLS, WRITE_TOOLS, server_env, text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
                assert {t.name for t in (await client.list_tools()).tools} == TOOLS | WRITE_TOOLS
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
