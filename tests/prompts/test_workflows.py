"""The workflow prompts' arguments and text: checked arguments, real tool names, unregistered
tools named with their toolset."""

from __future__ import annotations

import re

import pytest

from k8s_multicluster_mcp.common.errors import ContextNotFoundError, UserError
from k8s_multicluster_mcp.prompts.workflows import WORKFLOWS, Workflow
from k8s_multicluster_mcp.settings import DEFAULT_TOOLSETS
from k8s_multicluster_mcp.tools import all_tools

TOOLSETS = {spec.name: spec.toolset for spec in all_tools()}
DEFAULT = {name for name, toolset in TOOLSETS.items() if toolset in DEFAULT_TOOLSETS}
BY_NAME = {w.name: w for w in WORKFLOWS}


def contexts(spec: str) -> None:
    """A fleet of prod-eu and prod-us, matched as `ContextRegistry.resolve` matches."""
    if not any(term.strip() in ("prod-eu", "prod-us", "prod-*", "eu", "us") for term in spec.split(",")):
        raise ContextNotFoundError(f"unknown context '{spec}'; valid: prod-eu, prod-us")


def render(prompt: str, /, registered: set[str] = DEFAULT, **arguments: str) -> str:
    return BY_NAME[prompt].render(arguments, registered, TOOLSETS, contexts)


def test_the_four_workflows_are_offered() -> None:
    assert [w.name for w in WORKFLOWS] == [
        "fleet_triage",
        "what_changed",
        "compare_deployment",
        "node_health",
    ]
    assert [a.name for a in BY_NAME["compare_deployment"].arguments if a.required] == ["name"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.name)
def test_every_named_tool_is_real_and_in_the_default_toolsets(workflow: Workflow) -> None:
    """The workflows use only read tools the lean default registers, so none says 'not registered'."""
    arguments = {"name": "web"} if workflow.name == "compare_deployment" else {}
    text = render(workflow.name, **arguments)
    named = set(re.findall(r"`(k8s_[a-z_]+)`", text))
    assert named and named <= DEFAULT, named - DEFAULT
    assert "not registered" not in text and "\n" not in text.splitlines()[0]


def test_triage_goes_failing_pods_then_deployments_then_nodes_then_the_worst() -> None:
    text = render("fleet_triage", context="prod-*", namespace="shop")
    order = [text.index(f"`{tool}`") for tool in ("k8s_fleet_failing_pods", "k8s_fleet_unhealthy_deployments",
                                                  "k8s_fleet_node_problems", "k8s_diagnose_application")]  # fmt: skip
    assert order == sorted(order)
    assert 'call `k8s_fleet_failing_pods` with {"context": "prod-*", "namespace": "shop"}' in text
    assert text.startswith("Triage the Kubernetes fleet in clusters prod-*, namespace shop:")


def test_arguments_reach_the_calls_and_omitted_ones_are_left_out() -> None:
    assert 'call `k8s_fleet_recent_changes` with {"minutes": 15}' in render("what_changed", minutes="15")
    assert 'with {"minutes": 30}' in render("what_changed"), "the tool's own default"
    assert 'with {"minutes": 7.5, "context": "eu"}' in render("what_changed", minutes="7.5", context="eu")
    compare = render("compare_deployment", name="web", namespace="shop")
    assert 'call `k8s_fleet_compare_deployment` with {"name": "web", "namespace": "shop"}' in compare
    assert "Problems: call `k8s_fleet_node_problems`: NotReady" in render("node_health")
    assert "Focus on node n-1." in render("node_health", node="n-1")


def test_a_tool_whose_toolset_is_off_is_named_with_that_toolset() -> None:
    text = render("node_health", registered=DEFAULT - {"k8s_top_nodes", "k8s_get_events"})
    assert "`k8s_top_nodes` (not registered here: toolset `diagnostics` is off)" in text
    assert "call `k8s_top_nodes`" not in text
    assert text.endswith(
        "This server does not register k8s_get_events, k8s_top_nodes: skip what needs them and tell the "
        "user that it needs `--toolsets all` (or toolsets naming diagnostics) for them."
    )


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("compare_deployment", {}, "missing required argument 'name' for prompt compare_deployment: The deployment's name."),
        ("compare_deployment", {"name": "  "}, "missing required argument 'name'"),
        ("compare_deployment", {"name": "Web_1"}, "invalid deployment name 'Web_1': a name has at most 253 characters"),
        ("what_changed", {"minutes": "abc"}, "minutes must be a number from 1 to 1440, got 'abc'"),
        ("what_changed", {"minutes": "0"}, "minutes must be a number from 1 to 1440, got '0'"),
        ("what_changed", {"minutes": "nan"}, "minutes must be a number from 1 to 1440, got 'nan'"),
        ("fleet_triage", {"namespace": "Shop"}, "invalid namespace 'Shop'"),
        ("fleet_triage", {"context": "staging"}, "unknown context 'staging'; valid: prod-eu, prod-us"),
        ("node_health", {"nodes": "n-1", "ctx": "x"}, "unknown argument 'ctx', 'nodes' for prompt node_health; valid: context, node"),
        ("node_health", {"node": "bad node"}, "invalid node name 'bad node'"),
    ],
)  # fmt: skip
def test_a_bad_argument_is_one_line_naming_what_is_valid(
    name: str, arguments: dict[str, str], message: str
) -> None:
    with pytest.raises(UserError) as raised:
        render(name, **arguments)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_blank_optional_arguments_mean_omitted() -> None:
    assert render("fleet_triage", context=" ", namespace="") == render("fleet_triage")
