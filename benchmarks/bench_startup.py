"""Startup and the size of `tools/list`, side by side with a bare `MCPServer` on the same interpreter.

For each, a fresh process is started over stdio and timed from spawn to the `initialize` answer
and to the `tools/list` answer, interleaved over `rounds` repetitions (medians reported, and the
ratio to the bare server). The CPU time each process has used when its `initialize` answer
arrives is reported too (Linux: /proc, 10 ms ticks): on a machine shared with other work it moves
far less than wall time. The timed server runs with `--toolsets all` (every tool: the worst case,
and the figure earlier runs report); `tools/list` is measured in bytes, per tool and for output
schemas, for it and, once, for the default toolsets (tools, bytes, and bytes to the model: name +
description + inputSchema, `tools.schemas.model_bytes`).

    .venv/bin/python -m benchmarks.bench_startup [--rounds N]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from k8s_multicluster_mcp.tools.schemas import model_bytes

SCRIPT = Path(sys.executable).with_name("k8s-multicluster-mcp")
BARE = """
from mcp.server import MCPServer
server = MCPServer("bare")
@server.tool()
def ping() -> str:
    \"\"\"Answer pong.\"\"\"
    return "pong"
server.run("stdio")
"""
INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}  # fmt: skip


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds process `pid` has used so far, or None where /proc has no stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, float | None, dict[str, Any]]:
    """Seconds to the initialize answer and to the tools/list answer, CPU seconds used by the
    initialize answer, and the tools/list result."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(INITIALIZE) + "\n")
        proc.stdin.flush()
        proc.stdout.readline()
        initialized = time.perf_counter() - started
        cpu = cpu_seconds(proc.pid)
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}) + "\n")
        proc.stdin.flush()
        listed_line = proc.stdout.readline()
        listed = time.perf_counter() - started
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    return initialized, listed, cpu, json.loads(listed_line)["result"]


def tools_size(result: dict[str, Any]) -> dict[str, float]:
    tools = result["tools"]
    total = len(json.dumps(result, separators=(",", ":")))
    schemas = sum(len(json.dumps(t.get("outputSchema") or {}, separators=(",", ":"))) for t in tools)
    return {"tools": len(tools), "tools_list_bytes": total, "bytes_per_tool": total / len(tools),
            "output_schema_bytes": schemas}  # fmt: skip


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def run(rounds: int = 7) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        env = {"HOME": home, "PATH": "/usr/bin:/bin", "KUBECONFIG_DIR": home}
        ours: list[tuple[float, float, float | None]] = []
        bare: list[tuple[float, float, float | None]] = []
        result: dict[str, Any] = {}
        for _ in range(rounds):
            init, listed, cpu, result = one_start([str(SCRIPT), "--toolsets", "all"], env)
            ours.append((init, listed, cpu))
            b_init, b_listed, b_cpu, _ = one_start([sys.executable, "-c", BARE], env)
            bare.append((b_init, b_listed, b_cpu))
        default = one_start([str(SCRIPT)], env)[3]
    out: dict[str, Any] = {
        "initialize_s": statistics.median(i for i, _, _ in ours),
        "tools_list_s": statistics.median(t for _, t, _ in ours),
        "initialize_cpu_s": _median([c for _, _, c in ours]),
        "bare_initialize_s": statistics.median(i for i, _, _ in bare),
        "bare_tools_list_s": statistics.median(t for _, t, _ in bare),
        "bare_initialize_cpu_s": _median([c for _, _, c in bare]),
    }
    out["initialize_ratio"] = out["initialize_s"] / out["bare_initialize_s"]
    if out["initialize_cpu_s"] and out["bare_initialize_cpu_s"]:
        out["initialize_cpu_ratio"] = out["initialize_cpu_s"] / out["bare_initialize_cpu_s"]
    out.update(tools_size(result))
    out.update({f"default_{key}": value for key, value in tools_size(default).items()})
    out["model_bytes"] = sum(model_bytes(tool) for tool in result["tools"])
    out["default_model_bytes"] = sum(model_bytes(tool) for tool in default["tools"])
    return out


def report(figures: dict[str, Any]) -> None:
    print(
        f"initialize: {figures['initialize_s'] * 1000:.0f} ms vs bare MCPServer {figures['bare_initialize_s'] * 1000:.0f} ms "
        f"({figures['initialize_ratio']:.2f}x); tools/list answered at {figures['tools_list_s'] * 1000:.0f} ms"
    )
    if "initialize_cpu_ratio" in figures:
        print(
            f"CPU used by initialize: {figures['initialize_cpu_s'] * 1000:.0f} ms vs bare "
            f"{figures['bare_initialize_cpu_s'] * 1000:.0f} ms ({figures['initialize_cpu_ratio']:.2f}x)"
        )
    print(
        f"tools/list: {figures['tools']} tools, {figures['tools_list_bytes']:,} bytes "
        f"({figures['bytes_per_tool']:,.0f} per tool; output schemas {figures['output_schema_bytes']:,}); "
        f"to the model {figures['model_bytes']:,} bytes"
    )
    print(
        f"default tools/list: {figures['default_tools']} tools, {figures['default_tools_list_bytes']:,} bytes "
        f"(output schemas {figures['default_output_schema_bytes']:,}); to the model (name + description "
        f"+ inputSchema): {figures['default_model_bytes']:,} bytes"
    )


def main() -> int:
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 7
    report(run(rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
