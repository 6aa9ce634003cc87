"""End to end: per-caller permissions (issue 20, "How it is checked"). The installed console script
over streamable HTTP (`--authorize-as-caller --auth-token-map FILE --toolsets all`), driven by the
official MCP client, on two API servers of the local control plane, in --watch and on-demand mode.

Two callers from the token map, whose RBAC the test creates: a viewer that may read pods,
deployments, nodes, namespaces and events everywhere in both clusters, and a team member (by its
group) that may read those and patch pods in namespace team-a-… of the first cluster and nothing in
the second. The same questions (failing pods, `k8s_get_resources kind=pods`, summary, recent
changes, describe), asked alternately, give each exactly what its RBAC allows, counts included;
what is seeded in a namespace only the viewer may list appears in no answer to the team member.

The server acts as a ServiceAccount bound to exactly the README's ClusterRole (impersonate users
and groups, create SubjectAccessReviews) plus list/watch of what the shared caches read (pods,
deployments, nodes, namespaces, events): the documented minimum, not system:masters, so a read
the server answered with its own rights instead of the caller's would be caught. A write by the
team member outside its namespace is refused by the cluster, names the caller and changes
nothing; the API server's audit log records the impersonated user on it and on a live read.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import yaml
from kubernetes.client import CoreV1Api, RbacAuthorizationV1Api
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from integration import hostile, seed
from integration.backends import ControlPlaneFleet, Fleet
from integration.controlplane.fleet import audit_log
from integration.controlplane.process import free_port
from integration.test_e2e_stdio import SCRIPT, server_env, text
from integration.test_impersonation import readme_role

SUFFIX = secrets.token_hex(3)
VIEWER = f"viewer-{SUFFIX}@example.com"
TEAM = f"team-{SUFFIX}@example.com"
TEAM_GROUP = f"devs-{SUFFIX}"
TOKENS = {VIEWER: f"viewer-{secrets.token_hex(16)}", TEAM: f"team-{secrets.token_hex(16)}"}
TEAM_NS = f"team-a-{SUFFIX}"
HIDDEN_NS = f"hidden-{SUFFIX}"
SERVER_NS = f"mcp-{SUFFIX}"
NAME = f"e2e-authz-{SUFFIX}"
RBAC_GROUP = "rbac.authorization.k8s.io"
FIRST_PODS = {(TEAM_NS, "team-web"): "running", (TEAM_NS, "team-crash"): "crashloop",
              (HIDDEN_NS, "hidden-crash"): "crashloop", (HIDDEN_NS, "hidden-oom"): "oom_killed"}  # fmt: skip
SECOND_PODS = {(TEAM_NS, "second-crash"): "crashloop"}
DEPLOYMENTS = {
    True: {(TEAM_NS, "team-api"): 2, (HIDDEN_NS, "hidden-api"): 0},
    False: {(TEAM_NS, "second-api"): 2},
}
"""Ready replicas (of 2) of the deployments in the first cluster (True) and the second."""
HIDDEN = ("hidden", "second-crash", "second-api")
"""Words of every object the team member may not see (HIDDEN_NS contains the first)."""


def _rule(
    resources: list[str], group: str = "", verbs: tuple[str, ...] = ("get", "list", "watch")
) -> dict[str, Any]:
    return {"apiGroups": [group], "resources": resources, "verbs": list(verbs)}


VIEW = [_rule(["pods", "nodes", "namespaces", "events"]), _rule(["deployments", "replicasets"], "apps"),
        _rule(["events"], "events.k8s.io")]  # fmt: skip
"""The built-in `view` ClusterRole is aggregated by a controller the test fleet does not run (it
is empty there): the reads the questions need, written out."""
CACHE_READER = [_rule(["pods", "nodes", "namespaces", "events"], verbs=("list", "watch")),
                _rule(["deployments"], "apps", verbs=("list", "watch"))]  # fmt: skip
"""What the server's own identity lists for the shared caches (watch and the TTL cache)."""


def _subject(kind: str, name: str, namespace: str | None = None) -> dict[str, str]:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace or ""}
    return {"apiGroup": RBAC_GROUP, "kind": kind, "name": name}


def _binding(name: str, role: str, subject: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
            "subjects": [subject]}  # fmt: skip


def _event(api: Any, namespace: str, pod: str, reason: str) -> None:
    """An event about `pod` a minute ago: what recent changes reads in on-demand mode."""
    when = (datetime.now(timezone.utc) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    CoreV1Api(api).create_namespaced_event(
        namespace,
        {"metadata": {"name": f"{pod}.{reason.lower()}"}, "reason": reason, "type": "Warning",
         "involvedObject": {"kind": "Pod", "name": pod, "namespace": namespace, "apiVersion": "v1"},
         "message": f"{reason} of {pod}", "count": 1, "firstTimestamp": when, "lastTimestamp": when,
         "source": {"component": "test"}},
    )  # fmt: skip


@dataclass
class World:
    contexts: list[str]
    kubeconfig_dir: Path
    """The server's kubeconfigs: both clusters, as its ServiceAccount."""
    account: str
    """The ServiceAccount's user name, as audit events name it."""


def _server_kubeconfig(fleet: Fleet, context: str, token: str, directory: Path) -> None:
    config = yaml.safe_load((fleet.kubeconfig_dir / f"{context}.yaml").read_text())
    cluster = next(c for c in config["clusters"] if c["name"] == config["contexts"][0]["context"]["cluster"])
    (directory / f"{context}.yaml").write_text(
        yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": context, "clusters": [cluster],
            "users": [{"name": "mcp", "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": cluster["name"], "user": "mcp"}}],
        })
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Seeds both clusters, grants the callers and the server their rights, writes the server's
    kubeconfigs. First cluster: team-a-… (a running and a crash-looping pod, an available
    deployment) and hidden-… (two failing pods, a deployment without ready replicas); second:
    team-a-… (a crash-looping pod, a deployment), which the team member may not list there."""
    first, second = fleet.contexts[:2]
    directory = tmp_path_factory.mktemp("server-kubeconfigs")
    role, binding = readme_role()
    account = binding["subjects"][0]
    for ctx, pods in ((first, FIRST_PODS), (second, SECOND_PODS)):
        admin = fleet.admin(ctx)
        core, rbac = CoreV1Api(admin), RbacAuthorizationV1Api(admin)
        for ns in (TEAM_NS, HIDDEN_NS, SERVER_NS):
            seed.create_namespace(admin, ns)
        for (ns, pod), preset in pods.items():
            seed.create_pod(admin, ns, pod)
            seed.set_pod_status(admin, ns, pod, preset)
            _event(admin, ns, pod, "BackOff")
        for (ns, deployment), ready in DEPLOYMENTS[ctx == first].items():
            seed.create_deployment(admin, ns, deployment, ready=ready)
        rbac.create_cluster_role({"metadata": {"name": NAME}, "rules": VIEW})
        rbac.create_cluster_role_binding(_binding(NAME, NAME, _subject("User", VIEWER)))
        # The server's identity: exactly the README's role, plus what the caches list.
        role["metadata"]["name"] = f"{NAME}-impersonate"
        rbac.create_cluster_role(role)
        rbac.create_cluster_role({"metadata": {"name": f"{NAME}-cache"}, "rules": CACHE_READER})
        server = _subject("ServiceAccount", account["name"], SERVER_NS)
        for made in ("impersonate", "cache"):
            rbac.create_cluster_role_binding(_binding(f"{NAME}-{made}", f"{NAME}-{made}", server))
        core.create_namespaced_service_account(SERVER_NS, {"metadata": {"name": account["name"]}})
        token = core.create_namespaced_service_account_token(
            account["name"], SERVER_NS, {"spec": {"expirationSeconds": 3600}}
        ).status.token
        _server_kubeconfig(fleet, ctx, token, directory)
    rbac = RbacAuthorizationV1Api(fleet.admin(first))
    rbac.create_cluster_role(
        {"metadata": {"name": f"{NAME}-patch"}, "rules": [_rule(["pods"], verbs=("patch",))]}
    )
    for role_name in (NAME, f"{NAME}-patch"):
        binding_body = _binding(role_name, role_name, _subject("Group", TEAM_GROUP))
        rbac.create_namespaced_role_binding(TEAM_NS, binding_body)
    yield World([first, second], directory, f"system:serviceaccount:{SERVER_NS}:{account['name']}")
    for ctx in (first, second):
        rbac = RbacAuthorizationV1Api(fleet.admin(ctx))
        for made in (NAME, f"{NAME}-impersonate", f"{NAME}-cache"):
            rbac.delete_cluster_role_binding(made)
        for made in (
            NAME,
            f"{NAME}-impersonate",
            f"{NAME}-cache",
            *([f"{NAME}-patch"] if ctx == first else []),
        ):
            rbac.delete_cluster_role(made)
        for ns in (TEAM_NS, HIDDEN_NS, SERVER_NS):
            seed.delete_namespace(fleet.admin(ctx), ns)


@dataclass
class Server:
    mode: str
    resource: str
    log: Path
    timings: dict[tuple[str, str], list[float]] = field(default_factory=dict)


@asynccontextmanager
async def connected(
    server: Server, user: str
) -> AsyncIterator[Callable[..., Awaitable[tuple[str, dict[str, Any]]]]]:
    """A session of the official client carrying `user`'s token; yields `ask(tool, **arguments)`
    -> (text, structured content), which checks whether the tool failed (`failed=`: every cluster
    refused) and records how long it took."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKENS[user]}"}, timeout=60) as http,
        Client(streamable_http_client(server.resource, http_client=http)) as client,
    ):

        async def ask(tool: str, failed: bool = False, **arguments: Any) -> tuple[str, dict[str, Any]]:
            started = time.perf_counter()
            result = await client.call_tool(tool, arguments)
            server.timings.setdefault((user, tool), []).append(time.perf_counter() - started)
            assert result.is_error == failed, f"{tool} as {user}: {text(result)}"
            return text(result), result.structured_content or {}

        yield ask


async def until(check: Callable[[], Awaitable[None]], seconds: float = 30) -> None:
    """Runs `check` until it passes; after `seconds`, its failure is the test's."""
    end = time.monotonic() + seconds
    while True:
        try:
            await check()
            return
        except AssertionError:
            if time.monotonic() > end:
                raise
            await anyio.sleep(0.3)


@pytest.fixture(scope="module", params=["on-demand", "watch"])
def server(
    request: pytest.FixtureRequest, fleet: Fleet, world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    mode: str = request.param
    tmp = tmp_path_factory.mktemp(f"server-{mode}")
    token_map = tmp / "callers.yaml"
    token_map.write_text(
        yaml.safe_dump([
            {"token": TOKENS[VIEWER], "user": VIEWER},
            {"token": TOKENS[TEAM], "user": TEAM, "groups": [TEAM_GROUP]},
        ])
    )  # fmt: skip
    port = free_port()
    made = Server(mode, f"http://127.0.0.1:{port}/mcp", tmp / "server.log")
    with made.log.open("w") as log:
        process = subprocess.Popen(
            [str(SCRIPT), "--transport", "http", "--port", str(port), "--authorize-as-caller",
             "--auth-token-map", str(token_map), "--toolsets", "all", "--log-level", "INFO",
             "--request-timeout", "30", *(["--watch"] if mode == "watch" else [])],
            env=server_env(tmp, KUBECONFIG_DIR=str(world.kubeconfig_dir)),
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        assert hostile.wait_until(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, timeout=30)
        if mode == "watch":
            anyio.run(_watch_synced, made, fleet, world)
        yield made
    finally:
        process.terminate()
        process.wait(timeout=20)
        for (user, tool), seconds in sorted(made.timings.items()):
            ms = sorted(s * 1000 for s in seconds)
            print(
                f"{mode} {user.split('-')[0]} {tool}: n={len(ms)} median {ms[len(ms) // 2]:.0f} ms max {ms[-1]:.0f} ms"
            )
    logged = made.log.read_text()
    assert not any(token in logged for token in TOKENS.values()), "a token was logged"


async def _watch_synced(server: Server, fleet: Fleet, world: World) -> None:
    """Every context answers from the cache; then a change in each namespace after the sync (the
    crash-looping pods restart again), which the journal must have, for recent changes."""
    first, second = world.contexts
    async with connected(server, VIEWER) as ask:

        async def synced() -> None:
            _, data = await ask("k8s_get_resources", kind="pods", namespace=HIDDEN_NS)
            assert [(c["source"], c["status"]) for c in data["clusters"]] == [("cache", "ok")] * 2
            assert data["total"] == 2

        await until(synced)
        for ctx, (ns, pod) in ((first, (HIDDEN_NS, "hidden-crash")), (first, (TEAM_NS, "team-crash")),
                               (second, (TEAM_NS, "second-crash"))):  # fmt: skip
            seed.set_pod_status(fleet.admin(ctx), ns, pod, "crashloop", restarts=6)

        async def journaled() -> None:
            _, data = await ask("k8s_fleet_recent_changes")
            ours = {(c["context"], c["namespace"]) for c in data["items"]}
            assert ours >= {(first, HIDDEN_NS), (first, TEAM_NS), (second, TEAM_NS)}, ours

        await until(journaled)


def _all_pods(fleet: Fleet, contexts: list[str]) -> set[tuple[str, str, str]]:
    """The ground truth, as the fleet's admin lists it: (context, namespace, name) of every pod."""
    return {
        (ctx, p.metadata.namespace, p.metadata.name)
        for ctx in contexts
        for p in CoreV1Api(fleet.admin(ctx)).list_pod_for_all_namespaces().items
    }


def _leaks(body: str) -> list[str]:
    return [word for word in HIDDEN if word in body]


def test_each_caller_gets_exactly_what_its_rbac_allows(server: Server, fleet: Fleet, world: World) -> None:
    first, second = world.contexts
    every = _all_pods(fleet, world.contexts)
    team_note = f"namespace {TEAM_NS} only: may not list pods in all namespaces"
    team_denied = f"forbidden for {TEAM}: cannot list pods"

    async def questions() -> None:
        async with connected(server, VIEWER) as viewer, connected(server, TEAM) as team:
            for _round in range(3):  # alternating: one caller's answer is never served to the other
                # k8s_get_resources kind=pods
                _, seen = await viewer("k8s_get_resources", kind="pods", limit=1000)
                assert {(i["context"], i["namespace"], i["name"]) for i in seen["items"]} == every
                assert seen["total"] == len(every) and [c["status"] for c in seen["clusters"]] == ["ok", "ok"]
                body, seen = await team("k8s_get_resources", kind="pods", limit=1)
                assert [(i["context"], i["namespace"]) for i in seen["items"]] == [(first, TEAM_NS)]
                assert (seen["total"], seen["shown"]) == (2, 1)
                assert "… 1 more" in body and not _leaks(body), body
                one, two = seen["clusters"]
                assert (one["status"], one["count"], one["note"]) == ("ok", 2, team_note)
                assert (two["status"], two["error"]) == ("forbidden", team_denied)

                # k8s_fleet_failing_pods
                body, seen = await viewer("k8s_fleet_failing_pods", limit=1)
                failing = seen["total"]
                assert seen["shown"] == 1 and failing >= 4 and f"… {failing - 1} more" in body, body
                _, every_failing = await viewer("k8s_fleet_failing_pods", limit=1000)
                ours = {(i["context"], i["namespace"], i["name"]) for i in every_failing["items"]} & every
                assert {(c, ns, n) for c, ns, n in ours if ns in (TEAM_NS, HIDDEN_NS)} == {
                    (first, TEAM_NS, "team-crash"), (first, HIDDEN_NS, "hidden-crash"),
                    (first, HIDDEN_NS, "hidden-oom"), (second, TEAM_NS, "second-crash"),
                }  # fmt: skip
                assert every_failing["total"] == len(every_failing["items"]) == failing
                body, seen = await team("k8s_fleet_failing_pods", limit=1)
                assert [(i["context"], i["namespace"], i["name"]) for i in seen["items"]] == [
                    (first, TEAM_NS, "team-crash")
                ]
                assert (seen["total"], seen["by_context"], seen["by_reason"]) == (
                    1, {first: 1}, {"CrashLoopBackOff": 1},
                )  # fmt: skip
                assert " more" not in body and not _leaks(body), body

                # k8s_fleet_summary
                _, seen = await viewer("k8s_fleet_summary")
                rows = {r["context"]: r for r in seen["items"]}
                for ctx in world.contexts:
                    assert sum(rows[ctx]["pods_by_phase"].values()) == sum(1 for c, _, _ in every if c == ctx)
                assert rows[first]["deployments"] >= 2 and rows[first]["deployments_degraded"] >= 1
                body, seen = await team("k8s_fleet_summary")
                rows = {r["context"]: r for r in seen["items"]}
                assert sum(rows[first]["pods_by_phase"].values()) == 2
                assert rows[first]["failing_by_reason"] == {"CrashLoopBackOff": 1}
                assert (rows[first]["deployments"], rows[first]["deployments_degraded"]) == (1, 0)
                assert rows[first]["nodes"] is None, "nodes: the team member may not list them"
                assert second not in rows or rows[second]["pods_by_phase"] is None
                assert [c["status"] for c in seen["clusters"]] == ["ok", "forbidden"], seen["clusters"]
                assert not _leaks(body), body

                # k8s_fleet_recent_changes
                _, seen = await viewer("k8s_fleet_recent_changes")
                where = {(i["context"], i["namespace"]) for i in seen["items"]}
                assert where >= {(first, TEAM_NS), (first, HIDDEN_NS), (second, TEAM_NS)}
                body, seen = await team("k8s_fleet_recent_changes")
                assert {(i["context"], i["namespace"]) for i in seen["items"]} == {(first, TEAM_NS)}
                assert seen["total"] == len(seen["items"]) and not _leaks(body), body

                # k8s_describe: live reads, as the caller
                body, seen = await viewer("k8s_describe", resource_type="pods", name="hidden-crash",
                                          namespace=HIDDEN_NS, context=first)  # fmt: skip
                assert [o["metadata"]["name"] for o in seen["objects"]] == ["hidden-crash"], body
                body, seen = await team("k8s_describe", failed=True, resource_type="pods", name="hidden-crash",
                                        namespace=HIDDEN_NS, context=first)  # fmt: skip
                assert seen["objects"] == [] and f"forbidden for {TEAM}: cannot get pods" in body, body
                body, seen = await team("k8s_describe", resource_type="pods", all_namespaces=True)
                names = sorted(o["metadata"]["name"] for o in seen["objects"])
                assert names == ["team-crash", "team-web"], body
                assert not _leaks(body) and not _leaks(json.dumps(seen)), body

    anyio.run(questions)


def _audit_events(fleet: Fleet, context: str) -> list[dict[str, Any]]:
    assert isinstance(fleet, ControlPlaneFleet)
    lines = audit_log(fleet.workdir, context).read_text().splitlines()
    return [json.loads(line) for line in lines if line]


def _acted_as(
    events: list[dict[str, Any]], user: str, verb: str, resource: str, name: str | None, code: int
) -> list[dict[str, Any]]:
    """The audit events of requests sent as `user` (impersonated) with that verb, object and code (a
    create refused by authorization names no object: its body is never read)."""
    return [
        e for e in events
        if (e.get("impersonatedUser") or {}).get("username") == user and e["verb"] == verb
        and (e.get("objectRef") or {}).get("resource") == resource
        and (e.get("objectRef") or {}).get("name") == name and e["responseStatus"]["code"] == code
    ]  # fmt: skip


def test_a_write_outside_the_callers_namespace_is_refused_by_the_cluster_and_audited(
    server: Server, fleet: Fleet, world: World
) -> None:
    first = world.contexts[0]
    core = CoreV1Api(fleet.admin(first))
    before = core.read_namespaced_pod("hidden-crash", HIDDEN_NS).metadata
    label = {"touched-by": f"team-{server.mode}"}

    async def writes() -> tuple[str, str]:
        async with connected(server, TEAM) as team, connected(server, VIEWER) as viewer:
            patch = {"metadata": {"labels": label}}
            inside, _ = await team("k8s_patch_resource", resource_type="pods", name="team-web",
                                   namespace=TEAM_NS, patch=patch, patch_type="merge", context=first)  # fmt: skip
            refused, _ = await team("k8s_patch_resource", failed=True, resource_type="pods", name="hidden-crash",
                                    namespace=HIDDEN_NS, patch=patch, patch_type="merge", context=first)  # fmt: skip
            created, _ = await team("k8s_create_configmap_resource", failed=True, name="intruder",
                                    data={"a": "b"}, namespace=HIDDEN_NS, context=first)  # fmt: skip
            await viewer(
                "k8s_describe", resource_type="pods", name="team-web", namespace=TEAM_NS, context=first
            )
            return inside, refused + "\n" + created

    inside, refused = anyio.run(writes)
    # A patch reads the object first (for its diff): the cluster refuses that read, as the caller.
    assert f"forbidden for {TEAM}: cannot get pods in namespace {HIDDEN_NS}" in refused, refused
    assert f"forbidden for {TEAM}: cannot create configmaps in namespace {HIDDEN_NS}" in refused, refused
    assert not [c for c in core.list_namespaced_config_map(HIDDEN_NS).items if c.metadata.name == "intruder"]
    assert (
        core.read_namespaced_pod("team-web", TEAM_NS).metadata.labels.get("touched-by") == label["touched-by"]
    ), inside
    after = core.read_namespaced_pod("hidden-crash", HIDDEN_NS).metadata
    assert (after.resource_version, after.labels) == (before.resource_version, before.labels), (
        "changed nothing"
    )

    if not isinstance(fleet, ControlPlaneFleet):
        pytest.skip("the audit log is read from the local control plane's workdir")
    events = _audit_events(fleet, first)
    [write] = _acted_as(events, TEAM, "create", "configmaps", None, 403)[-1:]
    assert write["user"]["username"] == world.account and write["objectRef"]["namespace"] == HIDDEN_NS
    assert write["impersonatedUser"].get("groups", [])[:1] == [TEAM_GROUP], write["impersonatedUser"]
    assert _acted_as(events, TEAM, "get", "pods", "hidden-crash", 403), (
        "the patch's read, refused as the team member"
    )
    assert not _acted_as(events, TEAM, "patch", "pods", "hidden-crash", 200)
    assert _acted_as(events, TEAM, "patch", "pods", "team-web", 200), "the allowed write, as the team member"
    [read] = _acted_as(events, VIEWER, "get", "pods", "team-web", 200)[-1:]
    assert read["user"]["username"] == world.account, read
    answered = [
        e for e in events
        if (e.get("impersonatedUser") or {}).get("username") == TEAM
        and (e.get("objectRef") or {}).get("namespace") == HIDDEN_NS and e["responseStatus"]["code"] < 400
    ]  # fmt: skip
    assert not answered, "the cluster never answered the team member about the hidden namespace"
