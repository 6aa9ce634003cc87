"""End to end: the installed console script over stdio, driven by the official MCP client, as an
MCP client such as Claude Desktop starts it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from integration import seed
from integration.backends import Fleet
from k8s_multicluster_mcp.tools.schemas import model_bytes
from tests.tools.test_registry import MAX_DEFAULT_MODEL_BYTES, MAX_DEFAULT_TOOLS
from tests.tools.test_tools_list import SNAPSHOT as TOOLS_SNAPSHOT

SCRIPT = Path(sys.executable).with_name("k8s-multicluster-mcp")
DEFAULT_TOOLS = {
    "k8s_get_contexts",
    "k8s_get_namespaces",
    "k8s_get_nodes",
    "k8s_get_resources",
    "k8s_get_resource",
    "k8s_cache_status",
    "k8s_fleet_failing_pods",
    "k8s_fleet_summary",
    "k8s_fleet_unhealthy_deployments",
    "k8s_fleet_node_problems",
    "k8s_fleet_find_pods",
    "k8s_fleet_compare_deployment",
    "k8s_fleet_recent_changes",
    "k8s_describe",
    "k8s_cluster_info",
    "k8s_apis",
    "k8s_crds",
    "k8s_rollout_status",
    "k8s_rollout_history",
    "k8s_get_jobs",
    "k8s_get_cronjobs",
    "k8s_get_events",
    "k8s_get_pod_logs",
    "k8s_top_nodes",
    "k8s_top_pods",
    "k8s_diagnose_application",
}
"""Without --toolsets: core, fleet, workloads, diagnostics."""
OPT_IN_READS = {
    "k8s_list_secret",
    "k8s_get_secret_detail",
    "k8s_list_configmap",
    "k8s_get_configmap_detail",
    "k8s_get_roles",
    "k8s_get_clusterroles",
    "k8s_get_rolebindings",
    "k8s_get_clusterrolebindings",
    "k8s_get_service_accounts",
    "k8s_get_pvcs",
    "k8s_get_pvs",
    "k8s_get_storage_classes",
    "k8s_get_network_policies",
}
"""The read tools outside the default toolsets (config, rbac, storage, network)."""
TOOLS = DEFAULT_TOOLS | OPT_IN_READS
"""Every read tool."""
WRITE_TOOLS = {
    "k8s_create_ns",
    "k8s_delete_ns",
    "k8s_create_resource",
    "k8s_apply_resource",
    "k8s_delete_resource",
    "k8s_patch_resource",
    "k8s_label_resource",
    "k8s_annotate_resource",
    "k8s_create_secret_resource",
    "k8s_create_configmap_resource",
    "k8s_expose_resource",
    "k8s_run_pod",
    "k8s_scale_resource",
    "k8s_autoscale_resource",
    "k8s_update_resources",
    "k8s_set_resources_for_container",
    "k8s_rollout_undo",
    "k8s_rollout_restart",
    "k8s_rollout_pause",
    "k8s_rollout_resume",
    "k8s_cordon_node",
    "k8s_uncordon_node",
    "k8s_drain_node",
    "k8s_taint_node",
    "k8s_untaint_node",
    "k8s_pod_exec",
}


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no inherited KUBECONFIG, a HOME without ~/.kube."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KUBECONFIG", "KUBECONFIG_DIR") and not k.startswith("K8S_MCP_")
    }
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**env, "HOME": str(home), **extra}


@asynccontextmanager
async def session(env: dict[str, str], *args: str) -> AsyncIterator[Client]:
    params = StdioServerParameters(command=str(SCRIPT), args=list(args), env=env)
    async with Client(params, read_timeout_seconds=60) as client:
        yield client


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", None) == "text")


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    """Several files, several contexts, one name in two files, one malformed file."""
    directory = tmp_path / "kubeconfigs"
    directory.mkdir()

    def write(name: str, contexts: list[str]) -> None:
        (directory / name).write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1", "kind": "Config",
                    "clusters": [{"name": c, "cluster": {"server": f"https://{c}.example.invalid"}} for c in contexts],
                    "users": [{"name": "u", "user": {"token": "secret-token-value"}}],
                    "contexts": [{"name": c, "context": {"cluster": c, "user": "u"}} for c in contexts],
                }
            )
        )  # fmt: skip

    write("prod.yaml", ["prod-eu", "prod-us"])
    write("staging.yaml", ["staging", "shared"])
    write("dev", ["dev", "shared"])
    (directory / "broken.yaml").write_text("apiVersion: v1\nkind: Config\ncontexts: [\n")
    return directory


def test_contexts_over_stdio(tmp_path: Path, sample_dir: Path) -> None:
    async def run() -> None:
        async with session(server_env(tmp_path, KUBECONFIG_DIR=str(sample_dir))) as client:
            assert client.server_info is not None
            assert client.server_info.name == "k8s-multicluster-mcp"
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == DEFAULT_TOOLS
            assert all(tool.annotations and tool.annotations.read_only_hint for tool in tools.values())
            result = await client.call_tool("k8s_get_contexts", {})
            assert not result.is_error
            body = text(result)
            assert "6 contexts:" in body
            for name in ("prod-eu", "prod-us", "staging", "dev", "shared@staging.yaml", "shared@dev"):
                assert name in body
            assert "Context 'shared' is defined in several files" in body
            assert "Unusable kubeconfig" in body and "broken.yaml" in body
            assert "secret-token-value" not in body
            structured = result.structured_content or {}
            assert len(structured["contexts"]) == 6
            assert structured["problems"][0]["file"].endswith("broken.yaml")

    anyio.run(run)


def test_the_default_tool_list_is_lean_and_all_gives_every_tool_unchanged(tmp_path: Path) -> None:
    """Issue 21: the default `tools/list` on the wire stays within what a model should read on every
    request; `--toolsets all` lists every tool exactly as the in-process snapshot pins them."""

    async def listed(*args: str) -> list[dict[str, Any]]:
        async with session(server_env(tmp_path), *args) as client:
            tools = (await client.list_tools()).tools
        return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]

    default = anyio.run(listed)
    assert {t["name"] for t in default} == DEFAULT_TOOLS
    cost = sum(model_bytes(t) for t in default)
    assert len(default) <= MAX_DEFAULT_TOOLS and cost <= MAX_DEFAULT_MODEL_BYTES, (len(default), cost)
    every = anyio.run(listed, "--toolsets", "all")
    assert {t["name"] for t in every} == TOOLS | WRITE_TOOLS
    assert every == json.loads(TOOLS_SNAPSHOT.read_text())


def test_prompts_over_stdio(tmp_path: Path, sample_dir: Path) -> None:
    """Issue 21: the workflow prompts through the official client: listed, rendered for the tools
    registered (here `--toolsets fleet`), a bad argument refused in one line, the server serving on."""

    async def run() -> None:
        env = server_env(tmp_path, KUBECONFIG_DIR=str(sample_dir))
        async with session(env, "--toolsets", "fleet") as client:
            listed = (await client.list_prompts()).prompts
            assert [p.name for p in listed] == [
                "fleet_triage",
                "what_changed",
                "compare_deployment",
                "node_health",
            ]
            compare = next(p for p in listed if p.name == "compare_deployment")
            assert [(a.name, a.required) for a in compare.arguments or []] == [
                ("name", True), ("namespace", False), ("context", False)
            ]  # fmt: skip
            got = await client.get_prompt("compare_deployment", {"name": "web", "context": "prod-*"})
            body = getattr(got.messages[0].content, "text", "")
            assert 'call `k8s_fleet_compare_deployment` with {"name": "web", "context": "prod-*"}' in body
            assert "`k8s_rollout_history` (not registered here: toolset `workloads` is off)" in body
            with pytest.raises(MCPError) as bad:
                await client.get_prompt("what_changed", {"minutes": "an hour"})
            assert bad.value.message == "minutes must be a number from 1 to 1440, got 'an hour'"
            with pytest.raises(MCPError) as unknown:
                await client.get_prompt("fleet_triage", {"context": "nope"})
            assert "unknown context 'nope'" in unknown.value.message and "\n" not in unknown.value.message
            still = await client.get_prompt("fleet_triage", {"context": "prod-eu"})
            assert "call `k8s_fleet_failing_pods`" in getattr(still.messages[0].content, "text", "")

    anyio.run(run)


def test_stdout_carries_only_protocol(tmp_path: Path, sample_dir: Path) -> None:
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "k8s_get_contexts", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "k8s_get_resources", "arguments": {"kind": "pods", "context": "nope"}}},
    ]  # fmt: skip
    proc = subprocess.Popen(
        [str(SCRIPT), "--log-level", "DEBUG"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=server_env(tmp_path, KUBECONFIG_DIR=str(sample_dir)),
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    out: list[str] = []
    try:
        for message in messages:
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            if "id" in message:  # a client waits for each answer, as the MCP clients do
                out.append(proc.stdout.readline())
    finally:
        proc.stdin.close()
        proc.stdin = None  # so communicate() does not flush the closed pipe
        remaining, stderr = proc.communicate(timeout=30)
    out.append(remaining)
    lines = [line for line in "".join(out).splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every stdout line is a JSON-RPC message
    assert all(p.get("jsonrpc") == "2.0" for p in parsed)
    assert [p.get("id") for p in parsed] == [1, 2, 3, 4]
    assert parsed[3]["result"]["isError"] is True
    assert "unknown context 'nope'" in parsed[3]["result"]["content"][0]["text"]
    assert "broken.yaml" in stderr, "logs go to stderr"


INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}  # fmt: skip


def test_a_message_over_4_mib_is_dropped_with_a_warning_and_the_server_reads_on(tmp_path: Path) -> None:
    """Pipes are read from the event loop (`stdio_transport`), at most 4 MiB a message as over HTTP."""
    proc = subprocess.Popen(
        [str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=server_env(tmp_path),
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None

    def ask(message: dict[str, Any]) -> dict[str, Any]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()
        answer: dict[str, Any] = json.loads(proc.stdout.readline())
        return answer

    try:
        assert ask(INITIALIZE)["id"] == 1
        big = {"jsonrpc": "2.0", "id": 2, "method": "ping", "params": {"_meta": {"pad": "x" * (3 << 20)}}}
        assert ask(big) == {"jsonrpc": "2.0", "id": 2, "result": {}}, "3 MiB is within the limit"
        huge = {"jsonrpc": "2.0", "id": 3, "method": "ping", "params": {"_meta": {"pad": "x" * (5 << 20)}}}
        refused = ask(huge)
        assert refused["id"] == 3 and refused["error"]["code"] == -32600
        assert refused["error"]["message"].endswith("bytes; at most 4194304 (4 MiB) are read from stdin")
        assert ask({"jsonrpc": "2.0", "id": 4, "method": "ping"}) == {"jsonrpc": "2.0", "id": 4, "result": {}}
    finally:
        proc.stdin.close()
        proc.stdin = None  # so communicate() does not flush the closed pipe
        stderr = proc.communicate(timeout=30)[1].decode()
    assert proc.returncode == 0
    assert "on stdin was dropped: messages are at most 4194304 bytes (4 MiB)" in stderr


def test_one_socket_as_stdin_and_stdout_is_served_by_the_sdks_transport(tmp_path: Path) -> None:
    """As socat EXEC or inetd start a server: the event loop cannot write a socket it also reads."""
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(
        [str(SCRIPT)], stdin=theirs, stdout=theirs, stderr=subprocess.DEVNULL, env=server_env(tmp_path)
    )
    theirs.close()
    answers = ours.makefile("rwb")
    try:
        for message in (INITIALIZE, {"jsonrpc": "2.0", "id": 2, "method": "ping"}):
            answers.write(json.dumps(message).encode() + b"\n")
            answers.flush()
            assert json.loads(answers.readline())["id"] == message["id"]
    finally:
        ours.shutdown(socket.SHUT_WR)
        proc.wait(timeout=30)
        answers.close()
        ours.close()


def test_a_file_as_stdout_is_served_by_the_sdks_transport(tmp_path: Path, sample_dir: Path) -> None:
    """Only pipes and sockets are read from the event loop; anything else the SDK's stdio serves."""
    out = tmp_path / "out.jsonl"
    with out.open("wb") as stdout:
        proc = subprocess.Popen(
            [str(SCRIPT)], stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.DEVNULL,
            env=server_env(tmp_path, KUBECONFIG_DIR=str(sample_dir)),
        )  # fmt: skip
    assert proc.stdin is not None
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "k8s_get_contexts", "arguments": {}},
    }

    def answers(count: int) -> list[dict[str, Any]]:
        for _ in range(600):
            lines = out.read_text().splitlines()
            if len(lines) >= count:
                return [json.loads(line) for line in lines]
            time.sleep(0.1)
        raise AssertionError(f"{count} answers expected in {out}, found: {out.read_text()!r}")

    try:
        for message in (INITIALIZE, {"jsonrpc": "2.0", "method": "notifications/initialized"}, call):
            proc.stdin.write(json.dumps(message).encode() + b"\n")
            proc.stdin.flush()
            if message is INITIALIZE:
                answers(1)
        parsed = answers(2)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert [p["id"] for p in parsed] == [1, 2]
    assert "6 contexts:" in parsed[1]["result"]["content"][0]["text"]


DESTRUCTIVE = {"k8s_delete_ns", "k8s_delete_resource", "k8s_drain_node", "k8s_rollout_undo", "k8s_pod_exec"}


@pytest.mark.parametrize(
    ("flag", "expected"),
    [("--read-only", TOOLS), ("--disable-destructive", (TOOLS | WRITE_TOOLS) - DESTRUCTIVE)],
)
def test_safety_flags_register_exactly_the_safe_tools(
    tmp_path: Path, sample_dir: Path, flag: str, expected: set[str]
) -> None:
    async def run() -> None:
        env = server_env(tmp_path, KUBECONFIG_DIR=str(sample_dir), K8S_MCP_TOOLSETS="all")
        async with session(env, flag) as client:
            assert {t.name for t in (await client.list_tools()).tools} == expected
            dropped = await client.call_tool("k8s_delete_resource", {"resource_type": "cm", "name": "x"})
            assert dropped.is_error and "Unknown tool: k8s_delete_resource" in text(dropped)
            still = await client.call_tool("k8s_get_contexts", {})
            assert not still.is_error

    anyio.run(run)


def test_no_kubeconfig_at_all_still_serves_and_explains(tmp_path: Path) -> None:
    async def run() -> None:
        async with session(server_env(tmp_path)) as client:
            assert {t.name for t in (await client.list_tools()).tools} == DEFAULT_TOOLS
            result = await client.call_tool("k8s_get_contexts", {})
            body = text(result)
            assert "no Kubernetes contexts found" in body
            assert str(tmp_path / "home" / ".kube") in body
            assert "KUBECONFIG_DIR" in body
            failed = await client.call_tool("k8s_get_resources", {"kind": "pods"})
            assert failed.is_error
            assert "no Kubernetes contexts found" in text(failed)

    anyio.run(run)


def test_fleet_answers_with_provenance_and_user_errors(
    running_fleet: Fleet, namespace: str, tmp_path: Path
) -> None:
    for index, ctx in enumerate(running_fleet.contexts):
        seed.create_pod(running_fleet.admin(ctx), namespace, f"web-{index}")
        seed.set_pod_status(
            running_fleet.admin(ctx), namespace, f"web-{index}", "crashloop" if index == 0 else "running"
        )
    env = server_env(
        tmp_path,
        KUBECONFIG_DIR=str(running_fleet.kubeconfig_dir),
        # Not 3: the first question pays the kubernetes client's import (2 s here, more on a busy
        # machine), and a 3 s budget then answered "0 of 3 clusters". The stopped cluster below
        # refuses at once whatever the budget.
        K8S_MCP_REQUEST_TIMEOUT="10",
        K8S_MCP_CACHE_TTL="0",
    )
    allow = ",".join(running_fleet.contexts)  # admin contexts only: the viewers do not exist for the model

    async def run() -> None:
        async with session(env, "--contexts", allow) as client:
            contexts = (await client.call_tool("k8s_get_contexts", {})).structured_content or {}
            assert [c["name"] for c in contexts["contexts"]] == running_fleet.contexts
            result = await client.call_tool("k8s_get_resources", {"kind": "pods", "namespace": namespace})
            body = text(result)
            assert body.splitlines()[0].startswith("3 of 3 clusters answered (live")
            assert "CrashLoopBackOff" in body
            assert (result.structured_content or {})["total"] == 3

            running_fleet.stop(running_fleet.contexts[2])
            partial = await client.call_tool("k8s_get_resources", {"kind": "po", "namespace": namespace})
            lines = text(partial).splitlines()
            assert lines[0].startswith("2 of 3 clusters answered")
            assert lines[1] == f"  {running_fleet.contexts[2]}: unreachable — connection refused"

            hidden = await client.call_tool(
                "k8s_get_nodes", {"context": running_fleet.viewer(running_fleet.contexts[0])}
            )
            assert hidden.is_error
            assert "unknown context" in text(hidden)

            for args, message in (
                (
                    {"kind": "gizmoz"},
                    "'gizmoz' is not a served kind; k8s_apis lists the served kinds (not asked: ",
                ),
                ({"kind": "pods", "label_selector": "app in (web"}, "invalid label selector"),
                ({"kind": "pods", "limit": 10**9}, "limit must be between 1 and 1000"),
                ({"kind": "pods", "context": running_fleet.contexts[0][:-1]}, "is ambiguous; it matches"),
                (
                    {"kind": "deploy", "group": "batch"},
                    "'deploy' group 'batch' is not a served kind; closest served kinds: ",
                ),
            ):
                failed = await client.call_tool("k8s_get_resources", args)
                assert failed.is_error, args
                assert message in text(failed), text(failed)

            one = await client.call_tool(
                "k8s_get_resource",
                {
                    "kind": "pod",
                    "name": "web-0",
                    "namespace": namespace,
                    "context": running_fleet.contexts[0],
                },
            )
            assert "CrashLoopBackOff" in text(one)
            assert (one.structured_content or {})["objects"][0]["name"] == "web-0"
            missing = await client.call_tool(
                "k8s_get_resource",
                {"kind": "pod", "name": "nope", "namespace": namespace, "context": running_fleet.contexts[0]},
            )
            assert missing.is_error
            assert "Pod 'nope' not found" in text(missing)

    anyio.run(run)
