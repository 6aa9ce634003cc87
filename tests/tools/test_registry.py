"""Which tools get registered, with which annotations, under --read-only / --disable-destructive."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.server.mcpserver.exceptions import ToolError

from k8s_multicluster_mcp.server import build_registry, build_server, build_services
from k8s_multicluster_mcp.settings import Settings
from k8s_multicluster_mcp.tools.schemas import model_bytes

WRITES = {
    # tool: (destructive_hint, idempotent_hint, dropped by --disable-destructive)
    "k8s_create_ns": (False, False, False),
    "k8s_delete_ns": (True, True, True),
    "k8s_create_resource": (False, False, False),
    "k8s_apply_resource": (True, True, False),
    "k8s_delete_resource": (True, True, True),
    "k8s_patch_resource": (True, True, False),
    "k8s_label_resource": (True, True, False),
    "k8s_annotate_resource": (True, True, False),
    "k8s_create_secret_resource": (False, False, False),
    "k8s_create_configmap_resource": (False, False, False),
    "k8s_expose_resource": (False, False, False),
    "k8s_run_pod": (False, False, False),
    "k8s_scale_resource": (True, True, False),
    "k8s_autoscale_resource": (True, True, False),
    "k8s_update_resources": (True, True, False),
    "k8s_set_resources_for_container": (True, True, False),
    "k8s_rollout_undo": (True, False, True),
    "k8s_rollout_restart": (True, False, False),
    "k8s_rollout_pause": (False, True, False),
    "k8s_rollout_resume": (False, True, False),
    "k8s_cordon_node": (False, True, False),
    "k8s_uncordon_node": (False, True, False),
    "k8s_drain_node": (True, True, True),
    "k8s_taint_node": (True, True, False),
    "k8s_untaint_node": (True, True, False),
    "k8s_pod_exec": (True, False, True),
}
"""The original's 26 write tools and what their annotations must say (a table, not the code's list)."""


def tools_for(tmp_path: Path, **flags: Any) -> dict[str, Any]:
    return {t.name: t for t in listed_tools(tmp_path, **flags)}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, set(WRITES)),
        ({"read_only": True}, set()),
        ({"disable_destructive": True}, {name for name, (_, _, dropped) in WRITES.items() if not dropped}),
    ],
)
def test_safety_flags_drop_tools(flags: dict[str, bool], expected: set[str], tmp_path: Path) -> None:
    tools = tools_for(tmp_path, toolsets=("all",), **flags)
    assert set(tools) == READS | expected
    if flags.get("disable_destructive"):
        assert {
            "k8s_delete_ns",
            "k8s_delete_resource",
            "k8s_drain_node",
            "k8s_rollout_undo",
            "k8s_pod_exec",
        }.isdisjoint(tools)


def test_annotations_say_what_each_tool_does(tmp_path: Path) -> None:
    tools = tools_for(tmp_path, toolsets=("all",))
    for name in READS:
        hints = tools[name].annotations
        assert (hints.read_only_hint, hints.destructive_hint, hints.open_world_hint) == (True, False, True), (
            name
        )
    for name, (destructive, idempotent, _) in WRITES.items():
        hints = tools[name].annotations
        assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint) == (
            False, destructive, idempotent, True
        ), name  # fmt: skip


def test_a_dropped_tool_is_unknown(tmp_path: Path) -> None:
    config = Settings(kubeconfig_dir=tmp_path, read_only=True)
    state = build_services(config, build_registry(config))
    try:
        with pytest.raises(ToolError, match="Unknown tool: k8s_delete_resource"):
            anyio.run(
                build_server(config, state).call_tool,
                "k8s_delete_resource",
                {"resource_type": "cm", "name": "x"},
            )
    finally:
        state.close()


def listed_tools(tmp_path: Path, **settings: Any) -> list[Any]:
    config = Settings(kubeconfig_dir=tmp_path, **settings)
    state = build_services(config, build_registry(config))
    try:
        return list(anyio.run(build_server(config, state).list_tools))
    finally:
        state.close()


def test_every_tool_has_a_description_and_the_fleet_tools_their_output_schema(tmp_path: Path) -> None:
    tools = listed_tools(tmp_path, toolsets=("all",))
    for tool in tools:
        assert tool.description, tool.name
        assert "\n" not in tool.description and "  " not in tool.description, tool.name
        assert bool(tool.output_schema) == tool.name.startswith("k8s_fleet_"), tool.name
    assert len(set(WRITES) & {t.name for t in tools}) == 26


def test_tools_list_costs_at_most_one_kilobyte_per_tool(tmp_path: Path) -> None:
    """`tools/list` goes to the model with every request (issue: read parity, toolsets)."""
    tools = listed_tools(tmp_path, toolsets=("all",))
    sizes = {
        t.name: len(
            json.dumps(t.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))
        )
        for t in tools
    }
    assert len(tools) == 65
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
    "write": {"k8s_create_ns", "k8s_delete_ns", "k8s_create_resource", "k8s_apply_resource", "k8s_delete_resource",
              "k8s_patch_resource", "k8s_label_resource", "k8s_annotate_resource", "k8s_create_secret_resource",
              "k8s_create_configmap_resource", "k8s_expose_resource", "k8s_run_pod"},
    "scaling": {"k8s_scale_resource", "k8s_autoscale_resource", "k8s_update_resources",
                "k8s_set_resources_for_container", "k8s_rollout_undo", "k8s_rollout_restart", "k8s_rollout_pause",
                "k8s_rollout_resume"},
    "nodes": {"k8s_cordon_node", "k8s_uncordon_node", "k8s_drain_node", "k8s_taint_node", "k8s_untaint_node"},
    "exec": {"k8s_pod_exec"},
}  # fmt: skip
READS = set().union(*(v for k, v in TOOLSETS.items() if k not in ("write", "scaling", "nodes", "exec")))


@pytest.mark.parametrize(
    "chosen", [("core",), ("fleet", "rbac"), ("storage", "network", "diagnostics"), ("all",)]
)
def test_toolsets_register_exactly_the_named_sets(tmp_path: Path, chosen: tuple[str, ...]) -> None:
    wanted = set().union(*(TOOLSETS[name] for name in (TOOLSETS if chosen == ("all",) else chosen)))
    assert {t.name for t in listed_tools(tmp_path, toolsets=chosen)} == wanted


def test_by_default_the_fleet_read_toolsets_are_on(tmp_path: Path) -> None:
    default = set().union(*(TOOLSETS[name] for name in ("core", "fleet", "workloads", "diagnostics")))
    assert {t.name for t in listed_tools(tmp_path)} == default


MAX_DEFAULT_TOOLS = 30
"""Some clients (Cursor) cap a server at 40 tools; the default leaves room for others' tools."""
MAX_DEFAULT_MODEL_BYTES = 20_000
"""Name + description + inputSchema of the default tools: what the model reads on every request."""


def test_the_default_tool_list_is_lean(tmp_path: Path) -> None:
    """Pinned in process, from `_Server.list_tools` (the handler of `tools/list`, where the schemas
    are compacted): the unit suite catches a growing description at once; the e2e test
    (`integration/test_e2e_stdio.py`) checks the same limits on the wire."""
    tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed_tools(tmp_path)]
    cost = sum(model_bytes(t) for t in tools)
    assert len(tools) <= MAX_DEFAULT_TOOLS and cost <= MAX_DEFAULT_MODEL_BYTES, (len(tools), cost)


def test_an_unknown_toolset_is_refused_naming_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown toolset 'secrets'; valid: core, fleet, workloads, config"):
        Settings(kubeconfig_dir=tmp_path, toolsets=("core", "secrets"))


def test_building_the_server_does_not_load_the_kubernetes_client(tmp_path: Path) -> None:
    """Half a second of imports that `initialize` must not wait for (issue: startup)."""
    script = (
        "import sys\n"
        "from k8s_multicluster_mcp.server import build_registry, build_server, build_services\n"
        "from k8s_multicluster_mcp.settings import Settings\n"
        f"settings = Settings(kubeconfig_dir={str(tmp_path)!r}, watch=True)\n"
        "build_server(settings, build_services(settings, build_registry(settings)))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'urllib3')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
