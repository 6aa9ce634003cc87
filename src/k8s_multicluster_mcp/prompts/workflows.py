"""The workflows the tools are built for, as prompt templates: their arguments (checked, with
one-line errors naming what is valid) and their text, which names the real tools to call and says
which of them this server has not registered. Pure: no MCP, no cluster."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.common.names import check_name, check_namespace
from k8s_multicluster_mcp.common.text import shown

MAX_MINUTES = 24 * 60
DEFAULT_MINUTES = 30
"""As `k8s_fleet_recent_changes` takes."""

ContextCheck = Callable[[str], object]
"""Raises a `UserError` naming the valid contexts when a `context` argument matches none."""


@dataclass
class Offered:
    """The tools a rendered prompt may name: those registered on this server. A tool that is not
    is named with the toolset that would register it, and remembered for the closing note."""

    registered: Collection[str]
    toolsets: Mapping[str, str]
    """Every tool's toolset, registered or not."""
    missing: dict[str, str] = field(default_factory=dict)

    def call(self, tool: str, arguments: Mapping[str, object] | None = None) -> str:
        """'call `tool` with {...}' (arguments that are None left out), or why it cannot be called."""
        if tool not in self.registered:
            toolset = self.toolsets.get(tool, "?")
            self.missing[tool] = toolset
            return f"`{tool}` (not registered here: toolset `{toolset}` is off)"
        given = {k: v for k, v in (arguments or {}).items() if v is not None}
        if not given:
            return f"call `{tool}`"
        return f"call `{tool}` with {json.dumps(given, ensure_ascii=False)}"

    def closing(self) -> str:
        """A last line when a step named an unregistered tool: what it needs, for the user."""
        if not self.missing:
            return ""
        sets = sorted(set(self.missing.values()))
        return (
            f"\n\nThis server does not register {', '.join(sorted(self.missing))}: skip what needs them "
            f"and tell the user that it needs `--toolsets all` (or toolsets naming {', '.join(sets)}) "
            "for them."
        )


@dataclass(frozen=True)
class Argument:
    """One prompt argument: MCP sends every value as a string; `check` returns what the template
    uses or raises a `UserError` saying what is valid."""

    name: str
    description: str
    check: Callable[[str, ContextCheck], object]
    required: bool = False


def _context(value: str, check_context: ContextCheck) -> str | None:
    value = value.strip()
    if value:
        check_context(value)
    return value or None


def _namespace(value: str, _: ContextCheck) -> str | None:
    return check_namespace(value.strip())


def _name(what: str) -> Callable[[str, ContextCheck], str]:
    def check(value: str, _: ContextCheck) -> str:
        return check_name(value.strip(), what)

    return check


def _optional_name(what: str) -> Callable[[str, ContextCheck], str | None]:
    def check(value: str, _: ContextCheck) -> str | None:
        return check_name(value.strip(), what) if value.strip() else None

    return check


def _minutes(value: str, _: ContextCheck) -> float | int:
    try:
        minutes = float(value)
    except ValueError:
        minutes = math.nan
    if not 1 <= minutes <= MAX_MINUTES:
        raise UserError(f"minutes must be a number from 1 to {MAX_MINUTES}, got {shown(value)}")
    return int(minutes) if minutes.is_integer() else minutes


CONTEXT = Argument(
    "context", "Clusters: a context name, unique part, glob ('prod-*') or comma-separated list; omit: all.",
    _context,
)  # fmt: skip
NAMESPACE = Argument("namespace", "Namespace; omit for all.", _namespace)
MINUTES = Argument("minutes", f"How far back, 1-{MAX_MINUTES} (default {DEFAULT_MINUTES}).", _minutes)

Values = Mapping[str, object]
Template = Callable[[Offered, Values], str]


@dataclass(frozen=True)
class Workflow:
    """A prompt: its name, what it is for, its arguments and its template."""

    name: str
    title: str
    description: str
    arguments: tuple[Argument, ...]
    template: Template

    def values(self, given: Mapping[str, object] | None, check_context: ContextCheck) -> dict[str, object]:
        """Every argument checked: unknown and missing ones, then each value, in declared order."""
        given = dict(given or {})
        valid = ", ".join(a.name for a in self.arguments) or "none"
        unknown = sorted(set(given) - {a.name for a in self.arguments})
        if unknown:
            raise UserError(
                f"unknown argument {', '.join(map(shown, unknown))} for prompt {self.name}; valid: {valid}"
            )
        values: dict[str, object] = {}
        for argument in self.arguments:
            value = given.get(argument.name)
            if value is None or not str(value).strip():
                if argument.required:
                    raise UserError(
                        f"missing required argument '{argument.name}' for prompt {self.name}: "
                        f"{argument.description}"
                    )
                values[argument.name] = None
                continue
            values[argument.name] = argument.check(str(value), check_context)
        return values

    def render(
        self,
        given: Mapping[str, object] | None,
        registered: Collection[str],
        toolsets: Mapping[str, str],
        check_context: ContextCheck,
    ) -> str:
        """The prompt's text for these arguments (checked first) and the tools registered."""
        offered = Offered(registered, toolsets)
        return self.template(offered, self.values(given, check_context)) + offered.closing()


def _scope(values: Values) -> str:
    """' in every cluster', ' in clusters prod-*, namespace shop'."""
    clusters = f"clusters {values['context']}" if values.get("context") else "every cluster"
    return f" in {clusters}" + (f", namespace {values['namespace']}" if values.get("namespace") else "")


PROVENANCE = (
    "Every answer starts with how many clusters answered and how fresh its data is: say which "
    "clusters did not answer and why, and do not treat their silence as health."
)
READ_ONLY = "Change nothing in the clusters: this workflow only reads."


def _text(title: str, *steps: str, answer: str) -> str:
    """A workflow's text: what to find out, the provenance rule, numbered steps, what to answer."""
    numbered = "\n".join(f"{index}. {step}" for index, step in enumerate(steps, 1))
    return f"{title}\n{PROVENANCE}\n\n{numbered}\n\n{answer} {READ_ONLY}"


def _triage(use: Offered, v: Values) -> str:
    scope = {"context": v["context"], "namespace": v["namespace"]}
    return _text(
        f"Triage the Kubernetes fleet{_scope(v)}: find what is failing, why, and the worst problem first.",
        f"Failing pods: {use.call('k8s_fleet_failing_pods', scope)}. Note the reasons that dominate and "
        "the clusters, namespaces, owners and nodes they concentrate in.",
        f"Unhealthy deployments: {use.call('k8s_fleet_unhealthy_deployments', scope)}. Match them with "
        "the failing pods' owners.",
        f"Node problems: {use.call('k8s_fleet_node_problems', {'context': v['context']})}. Say whether "
        "failing pods sit on those nodes.",
        "Diagnose the worst: pick the workload with the most severe failures (the first failing pod's "
        f"owner, or the most affected deployment) and {use.call('k8s_diagnose_application')} with its "
        "`context`, `namespace`, `app_name` and `resource_type`. If that is not enough, "
        f"{use.call('k8s_get_pod_logs')} with `previous: true` for a crash-looping pod, and "
        f"{use.call('k8s_get_events')} with `object` set to the pod or workload.",
        answer="Answer with one line per affected cluster, then the worst problem: its likely cause with "
        "the evidence (reason, message, log line, event) and the next step to fix it.",
    )


def _changes(use: Offered, v: Values) -> str:
    minutes = v["minutes"] if v["minutes"] is not None else DEFAULT_MINUTES
    asked = {"minutes": minutes, "context": v["context"], "namespace": v["namespace"]}
    return _text(
        f"Find what changed{_scope(v)} in the last {minutes:g} minutes, and why.",
        f"Changes: {use.call('k8s_fleet_recent_changes', asked)}. It reads the server's change journal "
        "under --watch, else the Events API (which clusters keep for about an hour): say which answered.",
        f"Each rollout that started, finished or stalled: {use.call('k8s_rollout_history')} "
        "(`resource_type`, `name`, `namespace`, `context`) for the revision and images that changed, and "
        f"{use.call('k8s_rollout_status')} for where it stands.",
        f"Each pod that started failing and each node whose readiness changed: {use.call('k8s_get_events')} "
        f"with `object` set to it, and {use.call('k8s_diagnose_application')} for the workload that owns "
        "failing pods.",
        "Connect causes to effects: a rollout followed by failing pods of the same deployment, a node "
        "going NotReady followed by evictions or Pending pods, a restart storm after a config change.",
        answer="Answer with a timeline, oldest first (time, cluster, what changed), then the likely cause "
        "of each problem with its evidence, and what remains unexplained.",
    )


def _compare(use: Offered, v: Values) -> str:
    name = v["name"]
    asked = {"name": name, "namespace": v["namespace"], "context": v["context"]}
    return _text(
        f"Compare the deployment {name}{_scope(v)}: is it the same everywhere, and where it differs, why?",
        f"Compare: {use.call('k8s_fleet_compare_deployment', asked)}. It says where the deployment exists, "
        "its images per container, replicas, requests/limits and revision, and `drift`: each field that "
        "differs, with its value per cluster.",
        f"For each cluster that differs from the majority: {use.call('k8s_rollout_history')} with "
        f'`resource_type: "deployment"`, `name: "{name}"` and that cluster\'s `context`, to see when and '
        f"with what change cause it diverged, and {use.call('k8s_rollout_status')} for whether a rollout "
        "is still in progress.",
        f"Where it is not fully available: {use.call('k8s_diagnose_application')} with "
        f'`app_name: "{name}"` in that cluster.',
        answer="Answer with a table (cluster, present, images, ready/desired, revision), then each "
        "drifting field: intended (a canary, a region's size) or accidental, and which cluster is the odd "
        "one out.",
    )


def _nodes(use: Offered, v: Values) -> str:
    context = {"context": v["context"]}
    node = v["node"]
    return _text(
        f"Check the health of the nodes{_scope(v)}." + (f" Focus on node {node}." if node else ""),
        f"Problems: {use.call('k8s_fleet_node_problems', context)}: NotReady or Unknown, memory/disk/PID "
        "pressure, network unavailable, cordoned, and since when.",
        f"Inventory: {use.call('k8s_get_nodes', context)}: status, roles, kubelet version (note version "
        "skew within a cluster).",
        f"Load: {use.call('k8s_top_nodes', context)}: CPU and memory against allocatable (a cluster "
        "without metrics-server says so).",
        f"For {f'node {node}' if node else 'each problem node'}: {use.call('k8s_describe')} with "
        '`resource_type: "node"` (conditions, taints, capacity, newest events), '
        f'{use.call("k8s_get_events")} with `object: "node/<name>"`, and '
        f"{use.call('k8s_fleet_find_pods')} with `node` set to it, for the workloads at risk.",
        answer="Answer per cluster: nodes ready/total, each problem node with its cause and since when, "
        "the workloads at risk, and what to do about it.",
    )


WORKFLOWS: tuple[Workflow, ...] = (
    Workflow(
        "fleet_triage", "Fleet triage",
        "Failing pods, then unhealthy deployments, then node problems, then a diagnosis of the worst.",
        (CONTEXT, NAMESPACE), _triage,
    ),
    Workflow(
        "what_changed", "What changed, and why",
        "What changed in the last N minutes (failures, recoveries, rollouts, node readiness) and why.",
        (MINUTES, CONTEXT, NAMESPACE),
        _changes,
    ),
    Workflow(
        "compare_deployment", "Compare a deployment across clusters",
        "One deployment in every cluster: images, replicas, resources, revision, drift and its cause.",
        (Argument("name", "The deployment's name.", _name("deployment"), required=True), NAMESPACE, CONTEXT),
        _compare,
    ),
    Workflow(
        "node_health", "Node health",
        "Node problems, versions, load and the workloads at risk, per cluster.",
        (CONTEXT, Argument("node", "A node to focus on; omit: every problem node.", _optional_name("node"))),
        _nodes,
    ),
)  # fmt: skip
"""In the order `prompts/list` shows them."""
