"""The k8s:// resources' pure parts: URIs, cache hints, what may be subscribed to, and which
resources a journal change announces (once per look, however many changes)."""

from __future__ import annotations

from typing import Any

import pytest

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.model.changes import ChangeJournal
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.resources import (
    CONTEXTS,
    FLEET_FAILING_PODS,
    FLEET_SUMMARY,
    Updates,
    check_subscribable,
    parse_object,
    ttl_ms,
)
from tests.model.test_changes import Clock, pod


def test_an_object_uri_names_the_tools_arguments_and_dash_is_cluster_scoped() -> None:
    assert parse_object("k8s://cp-1/pod/prod/web-0") == {
        "context": "cp-1", "kind": "pod", "namespace": "prod", "name": "web-0"
    }  # fmt: skip
    assert parse_object("k8s://cp-1/node/-/node-1") == {
        "context": "cp-1", "kind": "node", "namespace": None, "name": "node-1"
    }  # fmt: skip
    assert parse_object(FLEET_SUMMARY) is None
    assert parse_object("k8s://cp-1/pod/prod") is None


@pytest.mark.parametrize(
    ("clusters", "expected"),
    [
        ([{"status": "ok", "source": "cache", "age_seconds": 0.0}], 1000),
        ([{"status": "ok", "source": "live", "age_seconds": 3.5}], 6500),
        ([{"status": "ok", "source": "live", "age_seconds": 12.0}], 0),
        ([{"status": "ok", "source": "cache"}, {"status": "ok", "source": "live", "age_seconds": 9.0}], 1000),
        ([{"status": "ok", "source": "cache"}, {"status": "unreachable"}], 0),
        ([], 1000),
    ],
)
def test_the_cache_hint_is_the_shortest_freshness_and_zero_when_a_cluster_failed(
    clusters: list[dict[str, Any]], expected: int
) -> None:
    assert ttl_ms({"clusters": clusters}, cache_ttl=10.0) == expected


def test_only_the_fleet_resources_are_subscribable_and_only_with_watch() -> None:
    check_subscribable(FLEET_SUMMARY, watching=True)
    with pytest.raises(UserError, match="subscribable: k8s://fleet/summary, k8s://fleet/failing-pods"):
        check_subscribable(CONTEXTS, watching=True)
    with pytest.raises(UserError, match="need --watch"):
        check_subscribable(FLEET_FAILING_PODS, watching=False)


def test_updates_announce_what_the_changes_since_the_last_look_touched() -> None:
    clock = Clock()
    journal = ChangeJournal(clock=clock)

    async def announce(uri: str) -> None:  # pragma: no cover - `due` is what is tested
        del uri

    updates = Updates(journal, announce)
    assert updates.due() == []
    running = pod(clock, {"running": {"startedAt": clock.ts(60)}}, ready=True)
    crashing = pod(clock, {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=6,
                   last={"reason": "Error", "exitCode": 1, "finishedAt": clock.ts(5)})  # fmt: skip
    journal.record("cp-1", Kind.POD, None, running)
    journal.record("cp-1", Kind.POD, running, crashing)
    journal.record("cp-1", Kind.POD, running, crashing)
    assert updates.due() == [FLEET_FAILING_PODS, FLEET_SUMMARY]
    assert updates.due() == []  # announced once
