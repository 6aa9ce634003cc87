"""The prompts as the server serves them (`prompts/list`, `prompts/get` handlers, in process):
listed with their arguments, rendered for the tools this server registered, a bad request refused
as invalid params in one line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.server import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from k8s_multicluster_mcp.server import build_registry, build_server, build_services
from k8s_multicluster_mcp.settings import Settings
from tests.conftest import WriteKubeconfig


@pytest.fixture
def serve(write_kubeconfig: WriteKubeconfig, tmp_path: Path) -> Iterator[Any]:
    write_kubeconfig("fleet.yaml", {"prod-eu": "https://eu.invalid", "prod-us": "https://us.invalid"})
    closing = []

    def build(**settings: Any) -> MCPServer[Any]:
        config = Settings(kubeconfig_dir=tmp_path / "kube", **settings)
        services = build_services(config, build_registry(config))
        closing.append(services)
        return build_server(config, services)

    yield build
    for services in closing:
        services.close()


def test_prompts_are_listed_with_their_arguments(serve: Any) -> None:
    listed = anyio.run(serve().list_prompts)
    assert [(p.name, [(a.name, a.required) for a in p.arguments or []]) for p in listed] == [
        ("fleet_triage", [("context", False), ("namespace", False)]),
        ("what_changed", [("minutes", False), ("context", False), ("namespace", False)]),
        ("compare_deployment", [("name", True), ("namespace", False), ("context", False)]),
        ("node_health", [("context", False), ("node", False)]),
    ]
    assert all(p.title and p.description for p in listed)


def test_a_prompt_names_the_tools_this_server_registered(serve: Any) -> None:
    def text(server: MCPServer[Any]) -> str:
        result = anyio.run(server.get_prompt, "fleet_triage", {"context": "eu"})
        [message] = result.messages
        assert message.role == "user"
        return str(message.content.text)

    lean = text(serve())
    assert 'call `k8s_fleet_failing_pods` with {"context": "eu"}' in lean and "not registered" not in lean
    fleet_only = text(serve(toolsets=("fleet",)))
    assert "`k8s_diagnose_application` (not registered here: toolset `diagnostics` is off)" in fleet_only


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("fleet_triage", {"context": "staging"}, "unknown context 'staging'"),
        ("compare_deployment", {"namespace": "shop"}, "missing required argument 'name' for prompt compare_deployment"),
        ("what_changed", {"minutes": "-5"}, "minutes must be a number from 1 to 1440, got '-5'"),
        ("triage", {}, "unknown prompt 'triage'; valid: fleet_triage, what_changed, compare_deployment, node_health"),
    ],
)  # fmt: skip
def test_a_bad_request_is_invalid_params_in_one_line(
    serve: Any, name: str, arguments: dict[str, str], message: str
) -> None:
    server = serve()
    with pytest.raises(MCPError) as raised:
        anyio.run(server.get_prompt, name, arguments)
    assert raised.value.code == INVALID_PARAMS
    assert raised.value.message.startswith(message) and "\n" not in raised.value.message
    assert anyio.run(server.get_prompt, "node_health", {}).messages, "the server keeps serving"
