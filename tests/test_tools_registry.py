"""Which tools get registered, with which annotations, under --read-only / --disable-destructive."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.server import MCPServer

from k8s_multicluster_mcp.query import ClusterState
from k8s_multicluster_mcp.server import build_registry, build_server, build_state
from k8s_multicluster_mcp.settings import Settings
from k8s_multicluster_mcp.tools import ToolSpec, core, fleet, register_tools


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
    monkeypatch.setattr(core, "TOOLS", [*core.TOOLS, WRITE, DELETE])
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
    read_tools = {spec.name for spec in (*core.TOOLS, *fleet.TOOLS) if not spec.writes}
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


def test_every_read_tool_has_a_description_and_output_schema(tmp_path: Path) -> None:
    settings = Settings(kubeconfig_dir=tmp_path)
    state = build_state(settings, build_registry(settings))
    server = build_server(settings, state)
    for tool in anyio.run(server.list_tools):
        assert tool.description
        assert tool.output_schema, tool.name
    state.source.close()


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
