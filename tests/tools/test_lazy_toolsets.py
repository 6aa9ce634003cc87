"""The toolset modules load at the first `tools/list` or `tools/call`, not before `initialize`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_toolset_modules_load_when_the_tools_are_first_listed(tmp_path: Path) -> None:
    """Importing them was most of what `initialize` cost beyond a bare MCPServer (issue 18)."""
    script = (
        "import sys, anyio\n"
        "from k8s_multicluster_mcp.server import build_registry, build_server, build_services\n"
        "from k8s_multicluster_mcp.settings import Settings\n"
        "from k8s_multicluster_mcp.tools import TOOLSET_MODULES\n"
        f"settings = Settings(kubeconfig_dir={str(tmp_path)!r}, toolsets=('all',))\n"
        "server = build_server(settings, build_services(settings, build_registry(settings)))\n"
        "loaded = lambda: [m for m in TOOLSET_MODULES if f'k8s_multicluster_mcp.tools.{m}' in sys.modules]\n"
        "print(loaded())\n"
        "tools = anyio.run(server.list_tools)\n"
        "print(loaded() == list(TOOLSET_MODULES), len(tools) > 50)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split("\n")[:2] == ["[]", "True True"]
