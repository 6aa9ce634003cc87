"""End to end: the k8s:// resources (issue 21, item 4) through the official MCP client over stdio,
on real API servers: listed, read as text and JSON with a cache hint, one object by template,
bad URIs refused in one line; with --watch a `subscriptions/listen` stream is silent while
nothing changes (10 s) and announces a pod that starts failing within 3 s; without --watch
subscribing is refused with the reason."""

from __future__ import annotations

import json
import time
from pathlib import Path

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from integration import seed
from integration.backends import Fleet
from integration.test_e2e_stdio import server_env, session, text
from k8s_multicluster_mcp.resources import CONTEXTS, FLEET_FAILING_PODS, FLEET_SUMMARY, OBJECT


def _contents(result: object) -> dict[str, str]:
    return {c.mime_type: c.text for c in result.contents}  # type: ignore[attr-defined]


def test_resources_read_like_the_tools_and_refuse_bad_uris(
    fleet: Fleet, namespace: str, tmp_path: Path
) -> None:
    ctx = fleet.contexts[0]
    seed.create_pod(fleet.admin(ctx), namespace, "web")
    seed.set_pod_status(fleet.admin(ctx), namespace, "web", "crashloop")
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))

    async def run() -> None:
        async with session(env, "--contexts", ",".join(fleet.contexts), "--cache-ttl", "10") as client:
            listed = {r.uri for r in (await client.list_resources()).resources}
            assert {FLEET_SUMMARY, FLEET_FAILING_PODS, CONTEXTS} <= listed
            templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
            assert OBJECT in templates

            failing = await client.read_resource(FLEET_FAILING_PODS)
            contents = _contents(failing)
            tool = await client.call_tool("k8s_fleet_failing_pods", {})
            # The same answer as the tool: its text (counts; ages tick between the two calls), and
            # its structured content as JSON (the same items).
            assert contents["text/plain"].splitlines()[1:3] == text(tool).splitlines()[1:3]
            data = json.loads(contents["application/json"])
            assert data["total"] == (tool.structured_content or {})["total"] >= 1
            assert data["items"] == (tool.structured_content or {})["items"]
            assert (namespace, "web") in {(i["namespace"], i["name"]) for i in data["items"]}
            # Live, so reusable for what is left of --cache-ttl: (0, 10 s].
            assert 0 < failing.ttl_ms <= 10_000, failing.ttl_ms

            summary = _contents(await client.read_resource(FLEET_SUMMARY))
            assert summary["text/plain"].startswith(
                f"{len(fleet.contexts)} of {len(fleet.contexts)} clusters"
            )
            assert json.loads(summary["application/json"])["items"]
            assert ctx in _contents(await client.read_resource(CONTEXTS))["text/plain"]

            pod = _contents(await client.read_resource(f"k8s://{ctx}/pod/{namespace}/web"))
            assert "name: web" in pod["text/plain"]
            node_name = json.loads(pod["application/json"])["objects"][0].get("spec", {}).get("nodeName")
            if node_name:
                node = _contents(await client.read_resource(f"k8s://{ctx}/node/-/{node_name}"))
                assert f"name: {node_name}" in node["text/plain"]

            for uri, says in [
                ("k8s://fleet/nothing", "valid: k8s://fleet/summary"),
                (f"k8s://{ctx}/pods/{namespace}/absent", "absent"),
                (f"k8s://no-such-context/pod/{namespace}/web", "no-such-context"),
            ]:
                with pytest.raises(MCPError) as refused:
                    await client.read_resource(uri)
                assert says in str(refused.value) and "\n" not in str(refused.value), str(refused.value)
            # A subscription without --watch says why it cannot be served; the server serves on.
            with pytest.raises(MCPError) as refused:
                async with client.listen(resource_subscriptions=[FLEET_FAILING_PODS]):
                    pass
            assert "need --watch" in str(refused.value), str(refused.value)
            assert (await client.read_resource(CONTEXTS)).contents

    anyio.run(run)


def test_with_watch_a_listen_stream_announces_a_pod_that_starts_failing(
    fleet: Fleet, namespace: str, tmp_path: Path
) -> None:
    ctx = fleet.contexts[0]
    seed.create_pod(fleet.admin(ctx), namespace, "web")
    seed.set_pod_status(fleet.admin(ctx), namespace, "web", "running")
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))

    async def run() -> None:
        async with session(env, "--watch", "--contexts", ",".join(fleet.contexts)) as client:
            deadline = time.monotonic() + 30
            while True:  # every watch started (no entries yet is not synced) and synced
                status = (await client.call_tool("k8s_cache_status", {})).structured_content or {}
                if status["entries"] and all(e["synced"] for e in status["entries"]):
                    break
                assert time.monotonic() < deadline, "the cache synced"
                await anyio.sleep(0.2)
            cached = await client.read_resource(FLEET_FAILING_PODS)
            assert cached.ttl_ms == 1000, cached.ttl_ms  # cached: fresh until the next announcement
            with pytest.raises(MCPError) as refused:
                async with client.listen(resource_subscriptions=[CONTEXTS]):
                    pass
            assert "subscribable: k8s://fleet/summary, k8s://fleet/failing-pods" in str(refused.value)

            async with client.listen(resource_subscriptions=[FLEET_FAILING_PODS]) as subscription:
                quiet: list[object] = []
                with anyio.move_on_after(10):  # nothing changes: nothing is announced
                    async for event in subscription:
                        quiet.append(event)
                assert quiet == [], quiet
                started = time.monotonic()
                seed.set_pod_status(fleet.admin(ctx), namespace, "web", "crashloop")
                with anyio.fail_after(3):
                    async for event in subscription:
                        if getattr(event, "uri", None) == FLEET_FAILING_PODS:
                            break
                announced = time.monotonic() - started
            after = json.loads(_contents(await client.read_resource(FLEET_FAILING_PODS))["application/json"])
            assert (namespace, "web") in {(i["namespace"], i["name"]) for i in after["items"]}
            print(f"\nannounced {announced:.2f} s after the pod started failing")

    anyio.run(run)
