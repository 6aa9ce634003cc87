"""`tools/list` with every toolset, pinned byte for byte: names, titles, descriptions, annotations
and input/output schemas are what clients and models depend on. A deliberate change regenerates
the snapshot with `K8S_MCP_UPDATE_SNAPSHOT=1 pytest tests/tools/test_tools_list.py` (and says
so in the CHANGELOG)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio

from k8s_multicluster_mcp.server import build_registry, build_server, build_services
from k8s_multicluster_mcp.settings import Settings

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools_list.json"


def current(tmp_path: Path) -> str:
    config = Settings(kubeconfig_dir=tmp_path, toolsets=("all",))
    state = build_services(config, build_registry(config))
    try:
        tools = anyio.run(build_server(config, state).list_tools)
    finally:
        state.close()
    listed = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
    return json.dumps(listed, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def test_tools_list_is_unchanged(tmp_path: Path) -> None:
    text = current(tmp_path)
    if os.environ.get("K8S_MCP_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(text)
    assert text == SNAPSHOT.read_text(), "tools/list changed; see this module's docstring"
