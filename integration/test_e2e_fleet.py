"""End to end: `k8s_fleet_failing_pods` through the console script over stdio on 3 clusters x 2,000
pods with 2% failing, as a model would call it: one call, every failing pod counted and
classified, the answer under 4,000 tokens with "N more not shown"."""

from __future__ import annotations

import time
from pathlib import Path

import anyio

from integration import seed
from integration.backends import Fleet
from integration.test_e2e_stdio import server_env, session, text

PODS = 2000
FAILING = PODS // 50  # 2%


def test_failing_pods_in_one_call_under_4000_tokens(fleet: Fleet, namespace: str, tmp_path: Path) -> None:
    for ctx in fleet.contexts:
        seed.create_fleet_pods(fleet.admin(ctx), namespace, PODS, FAILING)
    env = server_env(tmp_path, KUBECONFIG_DIR=str(fleet.kubeconfig_dir))
    allow = ",".join(fleet.contexts)

    async def ask(*flags: str) -> tuple[str, dict]:  # type: ignore[type-arg]
        async with session(env, "--contexts", allow, *flags) as client:
            deadline = time.monotonic() + 60
            while True:
                result = await client.call_tool("k8s_fleet_failing_pods", {"namespace": namespace})
                structured = result.structured_content or {}
                sources = {c.get("source") for c in structured.get("clusters", [])}
                if not flags or sources == {"cache"} or time.monotonic() > deadline:
                    return text(result), structured
                await anyio.sleep(0.5)

    body, structured = anyio.run(ask)
    assert not structured.get("notes")
    assert [c["status"] for c in structured["clusters"]] == ["ok"] * 3
    assert structured["total"] == 3 * FAILING
    assert structured["shown"] == 50 == len(structured["items"])
    assert structured["by_context"] == {ctx: FAILING for ctx in fleet.contexts}
    expected_reasons = {"CrashLoopBackOff", "ImagePullBackOff", "OOMKilled", "Evicted", "Unschedulable", "ErrImagePull",
                        "CreateContainerConfigError", "Error"}  # fmt: skip
    assert set(structured["by_reason"]) == expected_reasons
    assert sum(structured["by_reason"].values()) == 3 * FAILING
    first = structured["items"][0]
    assert first["reason"] in ("OOMKilled", "CrashLoopBackOff") and first["context"] in fleet.contexts
    # What a program needs; the message, phase and ages are the text's (MESSAGE, AGE columns).
    assert set(first) == {"context", "namespace", "name", "reason", "restarts", "owner", "node"}
    assert all(i["name"] in body for i in structured["items"])
    print(f"k8s_fleet_failing_pods: {len(body)} characters (~{len(body) // 4} tokens) for {3 * PODS} pods")
    assert len(body) / 4 < 4000, f"{len(body)} characters"
    assert body.splitlines()[-1].startswith(f"… {3 * FAILING - 50} more not shown")
    assert body.splitlines()[1] == f"{3 * FAILING} failing pods: " + ", ".join(
        f"{r} {n}" for r, n in sorted(structured["by_reason"].items(), key=lambda kv: (-kv[1], kv[0]))
    )

    _, watch_structured = anyio.run(ask, "--watch")
    assert {c["source"] for c in watch_structured["clusters"]} == {"cache"}
    assert watch_structured["total"] == structured["total"]
    assert watch_structured["by_reason"] == structured["by_reason"]
    assert watch_structured["items"] == structured["items"]
