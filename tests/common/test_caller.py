from __future__ import annotations

import anyio

from k8s_multicluster_mcp.common import caller


def test_no_caller_names_nobody() -> None:
    assert caller.by() == ""


def test_the_caller_reaches_a_worker_thread() -> None:
    """`run_blocking` (anyio's to_thread) copies context variables: the audit line sees the caller."""

    async def run() -> str:
        caller.current.set(caller.Caller("alice", groups=("sre",)))
        return await anyio.to_thread.run_sync(caller.by)

    assert anyio.run(run) == " by sub=alice groups=sre"


def test_a_caller_acting_as_itself_names_its_kubernetes_user() -> None:
    acting = caller.Caller("bob", "bob@example.com", ("oidc:sre",), user="oidc:bob@example.com")
    assert acting.describe() == "sub=bob email=bob@example.com user=oidc:bob@example.com groups=oidc:sre"
