"""Which tools get registered, with which annotations, under --read-only / --disable-destructive."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.server import MCPServer

from k8s_multicluster_mcp import tools as toolsets
from k8s_multicluster_mcp.query import ClusterState
from k8s_multicluster_mcp.server import build_registry, build_server, build_state
from k8s_multicluster_mcp.settings import Settings
from k8s_multicluster_mcp.tools import ALL_TOOLS, ToolSpec, register_tools


def _noop(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def tool() -> str:
        """Does nothing."""
        return "ok"

    return tool


WRITE = ToolSpec("k8s_label_resource", "Label", "write", _noop, writes=True, idempotent=True)
DELETE = ToolSpec(
    "k8s_delete_resource", "Delete", "write", _noop, writes=True, destructive=True, idempotent=False
)


def tools_for(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(toolsets, "ALL_TOOLS", (*ALL_TOOLS, WRITE, DELETE))
    state = build_state(settings, build_registry(settings))
    server: MCPServer[Any] = MCPServer("t")
    register_tools(server, state, settings)
    listed = anyio.run(server.list_tools)
    state.source.close()
    return {t.name: t for t in listed}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, {"k8s_label_resource", "k8s_delete_resource"}),
        ({"read_only": True}, set()),
        ({"disable_destructive": True}, {"k8s_label_resource"}),
    ],
)
def test_safety_flags_drop_tools(
    flags: dict[str, bool], expected: set[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tools = tools_for(Settings(kubeconfig_dir=tmp_path, **flags), monkeypatch)
    read_tools = {spec.name for spec in ALL_TOOLS if not spec.writes}
    assert set(tools) == read_tools | expected


def test_annotations_say_what_each_tool_does(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tools = tools_for(Settings(kubeconfig_dir=tmp_path), monkeypatch)
    for name in ("k8s_get_contexts", "k8s_get_resources"):
        hints = tools[name].annotations
        assert (hints.read_only_hint, hints.destructive_hint) == (True, False)
    delete = tools["k8s_delete_resource"].annotations
    assert (delete.read_only_hint, delete.destructive_hint, delete.idempotent_hint) == (False, True, False)
    label = tools["k8s_label_resource"].annotations
    assert (label.read_only_hint, label.destructive_hint) == (False, False)


def listed_tools(tmp_path: Path, **settings: Any) -> list[Any]:
    config = Settings(kubeconfig_dir=tmp_path, **settings)
    state = build_state(config, build_registry(config))
    try:
        return list(anyio.run(build_server(config, state).list_tools))
    finally:
        state.close()


def test_every_tool_has_a_description_and_the_fleet_tools_their_output_schema(tmp_path: Path) -> None:
    for tool in listed_tools(tmp_path):
        assert tool.description, tool.name
        assert "\n" not in tool.description and "  " not in tool.description, tool.name
        assert bool(tool.output_schema) == tool.name.startswith("k8s_fleet_"), tool.name


def test_tools_list_costs_at_most_one_kilobyte_per_tool(tmp_path: Path) -> None:
    """`tools/list` goes to the model with every request (issue: read parity, toolsets)."""
    tools = listed_tools(tmp_path)
    sizes = {
        t.name: len(
            json.dumps(t.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))
        )
        for t in tools
    }
    assert len(tools) >= 39
    assert sum(sizes.values()) / len(tools) <= 1024, sorted(sizes.items(), key=lambda kv: -kv[1])[:5]


TOOLSETS = {
    "core": {"k8s_get_contexts", "k8s_get_namespaces", "k8s_get_nodes", "k8s_get_resources", "k8s_get_resource",
             "k8s_cache_status", "k8s_describe", "k8s_cluster_info", "k8s_apis", "k8s_crds"},
    "fleet": {"k8s_fleet_failing_pods", "k8s_fleet_summary", "k8s_fleet_unhealthy_deployments",
              "k8s_fleet_node_problems", "k8s_fleet_find_pods", "k8s_fleet_compare_deployment",
              "k8s_fleet_recent_changes"},
    "workloads": {"k8s_rollout_status", "k8s_rollout_history", "k8s_get_jobs", "k8s_get_cronjobs"},
    "config": {"k8s_list_secret", "k8s_get_secret_detail", "k8s_list_configmap", "k8s_get_configmap_detail"},
    "rbac": {"k8s_get_roles", "k8s_get_clusterroles", "k8s_get_rolebindings", "k8s_get_clusterrolebindings",
             "k8s_get_service_accounts"},
    "storage": {"k8s_get_pvcs", "k8s_get_pvs", "k8s_get_storage_classes"},
    "network": {"k8s_get_network_policies"},
    "diagnostics": {"k8s_get_events", "k8s_get_pod_logs", "k8s_top_nodes", "k8s_top_pods",
                    "k8s_diagnose_application"},
}  # fmt: skip


@pytest.mark.parametrize(
    "chosen", [("core",), ("fleet", "rbac"), ("storage", "network", "diagnostics"), ("all",)]
)
def test_toolsets_register_exactly_the_named_sets(tmp_path: Path, chosen: tuple[str, ...]) -> None:
    wanted = set().union(*(TOOLSETS[name] for name in (TOOLSETS if chosen == ("all",) else chosen)))
    assert {t.name for t in listed_tools(tmp_path, toolsets=chosen)} == wanted


def test_by_default_every_toolset_is_on(tmp_path: Path) -> None:
    assert {t.name for t in listed_tools(tmp_path)} == set().union(*TOOLSETS.values())


def test_an_unknown_toolset_is_refused_naming_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown toolset 'secrets'; valid: core, fleet, workloads, config"):
        Settings(kubeconfig_dir=tmp_path, toolsets=("core", "secrets"))


def test_building_the_server_does_not_load_the_kubernetes_client(tmp_path: Path) -> None:
    """Half a second of imports that `initialize` must not wait for (issue: startup)."""
    script = (
        "import sys\n"
        "from k8s_multicluster_mcp.server import build_registry, build_server, build_state\n"
        "from k8s_multicluster_mcp.settings import Settings\n"
        f"settings = Settings(kubeconfig_dir={str(tmp_path)!r}, watch=True)\n"
        "build_server(settings, build_state(settings, build_registry(settings)))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'urllib3')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
