"""Every failure a tool call can meet comes back to the model as one line; the server keeps serving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool

from k8s_multicluster_mcp.server import build_registry, build_server, build_services
from k8s_multicluster_mcp.settings import Settings
from k8s_multicluster_mcp.tools import ALL_TOOLS, as_tool_errors
from tests.conftest import WriteKubeconfig


def test_an_unexpected_exception_is_one_line_and_the_traceback_stays_in_the_debug_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def k8s_explode() -> str:
        def deeper(n: int) -> int:
            return deeper(n + 1)

        return str(deeper(0))

    wrapped = as_tool_errors(k8s_explode)
    with caplog.at_level("DEBUG"), pytest.raises(ToolError) as info:
        anyio.run(wrapped)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    assert message.startswith("k8s_explode failed unexpectedly (RecursionError: maximum recursion depth")
    assert "keeps serving" in message
    debug = [r for r in caplog.records if r.levelname == "DEBUG" and r.exc_info]
    assert debug, "the traceback is logged at DEBUG"
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].exc_info is None, "one short line at ERROR, no traceback"


def call(tmp_path: Path, tool: str, arguments: dict[str, Any]) -> str:
    settings = Settings(kubeconfig_dir=tmp_path / "kube")
    state = build_services(settings, build_registry(settings))
    server = build_server(settings, state)
    try:

        async def run() -> str:
            try:
                await server.call_tool(tool, arguments)
            except ToolError as exc:
                return str(exc)
            raise AssertionError("expected a tool error")

        return anyio.run(run)
    finally:
        state.close()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"kind": "pods", "limit": "lots"},
            "k8s_get_resources: invalid argument 'limit': got 'lots' (str), expected integer "
            "(Most rows (1-1000).)",
        ),
        (
            {"kind": "pods", "limit": True},
            "k8s_get_resources: invalid argument 'limit': got 'True' (bool), expected integer "
            "(Most rows (1-1000).)",
        ),
        (
            {"limit": 5},
            "k8s_get_resources: missing required argument 'kind': string (Any served kind, e.g. pods, "
            "deploy, foos.example.com.)",
        ),
        (
            {"kind": "pods", "context": 7},
            "k8s_get_resources: invalid argument 'context': got '7' (int), expected string or array of "
            "string or null",
        ),
    ],
)
def test_wrong_arguments_are_one_line_naming_the_argument_and_what_is_valid(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig, arguments: dict[str, Any], expected: str
) -> None:
    write_kubeconfig("c.yaml", {"prod": "https://127.0.0.1:9"})
    message = call(tmp_path, "k8s_get_resources", arguments)
    assert "\n" not in message
    assert "pydantic" not in message and "http" not in message
    assert message.startswith(expected)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"kind": "pods", "namespace": "canary/secrets"}, "invalid namespace 'canary/secrets':"),
        ({"kind": "w" * 100_000}, "(100000 characters): a kind is a word like"),
        ({"kind": "pods/../../x"}, "invalid kind 'pods/../../x': a kind is a word like"),
        ({"kind": "pods", "label_selector": "a=b," * 400_000}, "label selector too long"),
    ],
)
def test_hostile_values_are_refused_before_any_request(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig, arguments: dict[str, Any], expected: str
) -> None:
    write_kubeconfig("c.yaml", {"prod": "https://127.0.0.1:9"})
    message = call(tmp_path, "k8s_get_resources", arguments)
    assert expected in message
    assert len(message) < 500


def test_get_resource_refuses_an_invalid_name(tmp_path: Path, write_kubeconfig: WriteKubeconfig) -> None:
    write_kubeconfig("c.yaml", {"prod": "https://127.0.0.1:9"})
    message = call(tmp_path, "k8s_get_resource", {"kind": "pod", "name": "../../secrets/x"})
    assert "invalid Pod name '../../secrets/x'" in message


def test_when_no_cluster_answers_the_result_is_an_error_naming_each(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig
) -> None:
    write_kubeconfig("c.yaml", {"gone-1": "https://127.0.0.1:9", "gone-2": "https://127.0.0.2:9"})
    settings = Settings(
        kubeconfig_dir=tmp_path / "kube", request_timeout=10
    )  # refused at once; the first call imports the client
    state = build_services(settings, build_registry(settings))
    server = build_server(settings, state)
    try:
        for tool, arguments in (("k8s_get_resources", {"kind": "pods"}), ("k8s_fleet_failing_pods", {}),
                                ("k8s_fleet_summary", {})):  # fmt: skip
            result = anyio.run(server.call_tool, tool, arguments)
            assert result.is_error, tool
            text = result.content[0].text
            assert text.startswith("0 of 2 clusters answered")
            assert "gone-1, gone-2: unreachable — connection refused" in text
    finally:
        state.close()


def test_tools_are_built_when_first_listed_or_called_and_listed_in_registration_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building every tool's pydantic model at start was most of what `initialize` waited for."""
    built: list[str] = []
    from_function = Tool.from_function

    def counting(fn: Any, **kwargs: Any) -> Tool:
        built.append(kwargs["name"])
        return from_function(fn, **kwargs)

    monkeypatch.setattr(Tool, "from_function", counting)
    settings = Settings(kubeconfig_dir=tmp_path, toolsets=("all",))
    state = build_services(settings, build_registry(settings))
    try:
        server = build_server(settings, state)
        assert built == []
        anyio.run(server.call_tool, "k8s_cache_status", {})
        assert built == ["k8s_cache_status"]
        names = [t.name for t in anyio.run(server.list_tools)]
        assert names == [spec.name for spec in ALL_TOOLS]
        assert sorted(built) == sorted(names)
        anyio.run(server.list_tools)
        assert len(built) == len(names), "each tool is built once"
    finally:
        state.close()


def test_a_tool_removed_before_it_was_built_is_unknown(tmp_path: Path) -> None:
    settings = Settings(kubeconfig_dir=tmp_path, toolsets=("core",))
    state = build_services(settings, build_registry(settings))
    try:
        server = build_server(settings, state)
        server.remove_tool("k8s_crds")
        assert "k8s_crds" not in {t.name for t in anyio.run(server.list_tools)}
        with pytest.raises(ToolError, match="Unknown tool: k8s_crds"):
            server.remove_tool("k8s_crds")
    finally:
        state.close()
