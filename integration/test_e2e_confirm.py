"""End to end over stdio with the official MCP client (issue 21 item 5): a destructive call from a
client that supports elicitation runs only when the user accepts the question, which carries the
dry run's answer; declined or cancelled, nothing changes (checked through the admin client) and
the answer says so. A client without elicitation is refused in one line under
--require-confirmation, and keeps today's behaviour without it. Both protocol eras are driven: the
handshake era (a mid-call `elicitation/create` request) and 2026-07-28 (`InputRequiredResult`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes.client import AppsV1Api, CoreV1Api
from kubernetes.client.exceptions import ApiException
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.session import ElicitationFnT
from mcp.client.stdio import StdioServerParameters
from mcp_types import ElicitRequestParams, ElicitResult

from integration import seed
from integration.backends import Fleet
from integration.test_e2e_stdio import SCRIPT, server_env, session, text


def _exists(core: CoreV1Api, namespace: str, name: str) -> bool:
    try:
        core.read_namespaced_config_map(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _answering(actions: list[str], asked: list[str]) -> ElicitationFnT:
    """An elicitation callback that records each question and answers with the next action."""

    async def elicitation(_: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        action = actions.pop(0)
        return ElicitResult(action=action, content={"confirm": True} if action == "accept" else None)  # type: ignore[arg-type]

    return elicitation


def _client(fleet: Fleet, tmp_path: Path, mode: str, elicitation: ElicitationFnT) -> Client:
    """The console script with every toolset on the first cluster, and a client that can be asked."""
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))
    args = ["--contexts", fleet.contexts[0], "--toolsets", "all"]
    params = StdioServerParameters(command=str(SCRIPT), args=args, env=env)
    return Client(params, read_timeout_seconds=60, mode=mode, elicitation_callback=elicitation)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_user_confirms_or_refuses_each_destructive_call(
    fleet: Fleet, namespace: str, tmp_path: Path, mode: str
) -> None:
    ctx = fleet.contexts[0]
    admin = fleet.admin(ctx)
    core = CoreV1Api(admin)
    for name in ("declined", "cancelled", "accepted"):
        seed.create_configmap(admin, namespace, name, {"k": "v"})
    seed.create_deployment(admin, namespace, "web", replicas=3)
    asked: list[str] = []
    actions: list[str] = []
    elicitation = _answering(actions, asked)

    async def run() -> dict[str, Any]:
        answers: dict[str, Any] = {}
        async with _client(fleet, tmp_path, mode, elicitation) as client:
            answers["version"] = client.protocol_version
            for name, action in (("declined", "decline"), ("cancelled", "cancel"), ("accepted", "accept")):
                actions.append(action)
                answers[name] = await client.call_tool(
                    "k8s_delete_resource",
                    {"context": ctx, "resource_type": "configmap", "name": name, "namespace": namespace},
                )
            actions.append("decline")
            answers["scale"] = await client.call_tool(
                "k8s_scale_resource",
                {"context": ctx, "resource_type": "deployment", "name": "web", "namespace": namespace,
                 "replicas": 0},
            )  # fmt: skip
            actions.append("decline")
            answers["namespace"] = await client.call_tool(
                "k8s_delete_ns", {"context": ctx, "name": namespace}
            )
            # A dry run changes nothing: nothing is asked.
            answers["dry"] = await client.call_tool(
                "k8s_delete_resource",
                {"context": ctx, "resource_type": "configmap", "name": "declined", "namespace": namespace,
                 "dry_run": True},
            )  # fmt: skip
        return answers

    answers = anyio.run(run)
    # auto: 2026-07-28, where the question rides an InputRequiredResult; legacy: elicitation/create.
    assert (answers["version"] >= "2026-07-28") == (mode == "auto"), answers["version"]
    assert len(asked) == 5, asked
    assert asked[0] == (
        f"Delete an object: 'configmap' '{namespace}'/'declined' in {ctx}? "
        f"Dry run: configmaps {namespace}/declined deleted"
    )
    assert "to 0 replicas in" in asked[3] and "Dry run: deployments.apps" in asked[3], asked[3]
    assert "spec.replicas: 3 -> " in asked[3], asked[3]
    assert asked[4] == (
        f"Delete a namespace: namespace '{namespace}' (and everything in it) in {ctx}? "
        f"Dry run: namespaces {namespace} deleted"
    )
    assert core.read_namespace(namespace).status.phase == "Active", "declined: unchanged"
    assert _exists(core, namespace, "declined"), "declined: unchanged"
    assert _exists(core, namespace, "cancelled"), "cancelled: unchanged"
    assert not _exists(core, namespace, "accepted"), "accepted: deleted"
    assert AppsV1Api(admin).read_namespaced_deployment("web", namespace).spec.replicas == 3
    for name, said in (("declined", "declined"), ("cancelled", "dismissed"), ("scale", "declined"),
                       ("namespace", "declined")):  # fmt: skip
        assert not answers[name].is_error
        assert text(answers[name]).startswith(f"Not done: the user {said} the confirmation"), text(
            answers[name]
        )
        assert "nothing was changed" in text(answers[name])
    assert not answers["accepted"].is_error and "deleted" in text(answers["accepted"])
    assert "DRY RUN" in text(answers["dry"])


def test_a_client_that_cannot_ask_is_refused_only_under_require_confirmation(
    fleet: Fleet, namespace: str, tmp_path: Path
) -> None:
    ctx = fleet.contexts[0]
    core = CoreV1Api(fleet.admin(ctx))
    seed.create_configmap(fleet.admin(ctx), namespace, "kept", {"k": "v"})
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))
    delete = {"context": ctx, "resource_type": "configmap", "name": "kept", "namespace": namespace}

    async def call(*flags: str) -> Any:
        async with session(env, "--contexts", ctx, "--toolsets", "all", *flags) as client:
            return await client.call_tool("k8s_delete_resource", delete)

    refused = anyio.run(call, "--require-confirmation")
    assert refused.is_error
    message = text(refused)
    assert "\n" not in message and "--require-confirmation" in message and "elicitation" in message, message
    assert _exists(core, namespace, "kept"), "refused: unchanged"

    done = anyio.run(call)
    assert not done.is_error, text(done)
    assert not _exists(core, namespace, "kept"), "without the flag: deleted as before"


def test_a_drain_is_asked_about_with_the_pods_it_would_evict(
    fleet: Fleet, namespace: str, tmp_path: Path
) -> None:
    ctx = fleet.contexts[0]
    admin = fleet.admin(ctx)
    core = CoreV1Api(admin)
    node = f"{namespace}-node"
    seed.create_node(admin, node)
    seed.create_pod(admin, namespace, "app-1", node=node, owner=("ReplicaSet", "rs"))
    asked: list[str] = []
    elicitation = _answering(["decline", "accept"], asked)
    drain = {"context": ctx, "node_name": node, "timeout": 1}

    async def run() -> list[Any]:
        async with _client(fleet, tmp_path, "legacy", elicitation) as client:
            declined = await client.call_tool("k8s_drain_node", drain)
            untouched = core.read_node(node).spec.unschedulable
            return [declined, untouched, await client.call_tool("k8s_drain_node", drain)]

    try:
        declined, untouched, accepted = anyio.run(run)
        assert asked[0] == asked[1], "the same question twice: nothing changed in between"
        assert asked[0].startswith(f"Drain a node: node '{node}' in {ctx}? Dry run: "), asked[0]
        assert f"pods {namespace}/app-1 evicted" in asked[0], asked[0]
        assert text(declined).startswith("Not done: the user declined") and not untouched
        assert not accepted.is_error, text(accepted)
        assert core.read_node(node).spec.unschedulable
        assert core.read_namespaced_pod("app-1", namespace).metadata.deletion_timestamp is not None
    finally:
        # The fleet is shared by the session: a cordoned node left behind is a node problem in
        # every later fleet test's answer.
        core.delete_node(node)
