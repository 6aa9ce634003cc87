"""An independent client: the MCP Inspector's CLI (TypeScript, from the npm registry, version
pinned, installed into the project's cache) lists the tools, prompts, resources and resource
templates of the installed console script over stdio and reads resources, without error, against
a real API server (issue 21). Skipped, with the reason, where Node.js or npm is missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from integration.backends import Fleet
from integration.controlplane.build import cache_dir

INSPECTOR = "@modelcontextprotocol/inspector"
VERSION = "2.12.0"
SCRIPT = Path(sys.executable).with_name("k8s-multicluster-mcp")


@pytest.fixture(scope="module")
def inspector() -> Path:
    """The Inspector's launcher, installed once per version into the cache (about 25 s, 111 MB)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("the MCP Inspector needs Node.js and npm on PATH")
    prefix = cache_dir().parent / f"inspector-{VERSION}"
    launcher = prefix / "node_modules" / ".bin" / "mcp-inspector"
    if not launcher.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        for _ in range(2):  # one retry: a registry hiccup is not a failure of the server
            done = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(prefix),
                 f"{INSPECTOR}@{VERSION}"],
                capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            if done.returncode == 0:
                break
        assert done.returncode == 0, f"npm install {INSPECTOR}@{VERSION} failed:\n{done.stderr[-3000:]}"
    return launcher


def cli(inspector: Path, fleet: Fleet, tmp_path: Path, *args: str) -> Any:
    home = tmp_path / "home"  # the Inspector keeps a catalog under ~/.mcp-inspector
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_MCP_", "KUBECONFIG"))}
    done = subprocess.run(
        # The server first: the variadic options (`--prompt-args k=v ...`) would take it as theirs.
        [str(inspector), "--cli", str(SCRIPT), "-e", f"KUBECONFIG_DIR={fleet.kubeconfig_dir}",
         "-e", f"HOME={home}", *args],
        env={**env, "HOME": str(home)}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    answer = json.loads(done.stdout)
    assert "error" not in answer, answer
    return answer


def test_the_inspector_cli_lists_and_reads_everything(inspector: Path, fleet: Fleet, tmp_path: Path) -> None:
    tools = cli(inspector, fleet, tmp_path, "--method", "tools/list")["tools"]
    assert len(tools) == 26 and all(t["inputSchema"]["type"] == "object" for t in tools)
    prompts = cli(inspector, fleet, tmp_path, "--method", "prompts/list")["prompts"]
    assert {p["name"] for p in prompts} == {
        "fleet_triage",
        "what_changed",
        "compare_deployment",
        "node_health",
    }
    resources = cli(inspector, fleet, tmp_path, "--method", "resources/list")["resources"]
    assert {"k8s://fleet/summary", "k8s://fleet/failing-pods", "k8s://contexts"} <= {
        r["uri"] for r in resources
    }
    templates = cli(inspector, fleet, tmp_path, "--method", "resources/templates/list")["resourceTemplates"]
    assert [t["uriTemplate"] for t in templates] == ["k8s://{context}/{kind}/{namespace}/{name}"]
    for uri in ("k8s://fleet/summary", "k8s://contexts"):
        contents = cli(inspector, fleet, tmp_path, "--method", "resources/read", "--uri", uri)["contents"]
        assert [c["mimeType"] for c in contents] == ["text/plain", "application/json"], contents
        json.loads(contents[1]["text"])
    prompt = cli(
        inspector, fleet, tmp_path, "--method", "prompts/get", "--prompt-name", "fleet_triage",
        "--prompt-args", f"context={fleet.contexts[0]}",
    )  # fmt: skip
    assert "k8s_fleet_failing_pods" in prompt["messages"][0]["content"]["text"]
