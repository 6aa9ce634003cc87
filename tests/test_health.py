"""The health port's metrics (names, labels, parsed by prometheus_client's own parser) and its
app's answers, without a cluster."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.errors import ClusterUnreachableError, NotFoundError
from k8s_multicluster_mcp.health import CacheCollector, Health, Metrics
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.query.readiness import Readiness
from k8s_multicluster_mcp.sources.base import CacheEntry, CacheStatus
from tests.kube.test_fanout import ctx

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(metrics: Metrics) -> Samples:
    """Every sample of the rendered text, parsed back: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
    }


def names(metrics: Metrics) -> set[str]:
    return {family.name for family in text_string_to_metric_families(metrics.render().decode())}


def test_every_name_has_the_prefix_and_the_calls_carry_bounded_labels() -> None:
    metrics = Metrics()
    metrics.tool_called("k8s_get_contexts", False, 0.02)
    metrics.tool_called("k8s_get_contexts", True, 0.3)
    metrics.cluster_called("prod", "ok", 0.01)
    metrics.cluster_called("prod", "unreachable", 0.002)
    found = samples(metrics)
    assert all(name.startswith("k8s_mcp_") for name, _ in found)
    assert found[("k8s_mcp_tool_calls_total", (("tool", "k8s_get_contexts"),))] == 2
    assert found[("k8s_mcp_tool_errors_total", (("tool", "k8s_get_contexts"),))] == 1
    assert found[("k8s_mcp_tool_call_duration_seconds_count", (("tool", "k8s_get_contexts"),))] == 2
    assert (
        found[("k8s_mcp_tool_call_duration_seconds_bucket", (("le", "0.025"), ("tool", "k8s_get_contexts")))]
        == 1
    )
    ok, down = (("context", "prod"), ("status", "ok")), (("context", "prod"), ("status", "unreachable"))
    assert found[("k8s_mcp_cluster_requests_total", ok)] == 1
    assert found[("k8s_mcp_cluster_requests_total", down)] == 1
    assert ("k8s_mcp_cluster_errors_total", ok) not in found
    assert found[("k8s_mcp_cluster_errors_total", down)] == 1
    assert found[("k8s_mcp_cluster_request_duration_seconds_count", down)] == 1
    build = [labels for name, labels in found if name == "k8s_mcp_build_info"]
    assert [dict(b)["version"] for b in build] and {"python", "version"} == set(dict(build[0]))
    assert not any(name.endswith("_created") for name, _ in found)
    assert "k8s_mcp_process_resident_memory_bytes" in {name for name, _ in found}


def cache_entry(context: str, kind: Kind, **changes: object) -> CacheEntry:
    values: dict[str, object] = dict(
        context=context, kind=kind, synced=True, healthy=True, objects=7, scope=None, resource_version="9",
        last_event=utcnow() - timedelta(seconds=30), unhealthy_since=None, relists=1, reconnects=2,
        requests=4, forbidden=None, last_error=None, approx_bytes=2048, events=11,
    )  # fmt: skip
    values.update(changes)
    return CacheEntry(**values)  # type: ignore[arg-type]


def test_the_cache_figures_are_read_from_cache_status_when_scraped() -> None:
    status = CacheStatus(
        (cache_entry("a", Kind.POD), cache_entry("b", Kind.NODE, synced=False, last_event=None)), idle=("c",)
    )
    metrics = Metrics()
    current: list[CacheStatus | None] = [None]
    metrics.registry.register(CacheCollector(lambda: current[0]))
    assert not any(n.startswith("k8s_mcp_cache") for n in names(metrics)), "on demand: no cache figures"
    current[0] = status
    found = samples(metrics)
    a, b = (("context", "a"), ("kind", "pods")), (("context", "b"), ("kind", "nodes"))
    assert found[("k8s_mcp_cache_objects", a)] == 7
    assert found[("k8s_mcp_cache_synced", a)] == 1
    assert found[("k8s_mcp_cache_synced", b)] == 0
    assert found[("k8s_mcp_cache_bytes", a)] == 2048
    assert found[("k8s_mcp_cache_events_total", a)] == 11
    assert found[("k8s_mcp_cache_relists_total", a)] == 1
    assert found[("k8s_mcp_cache_reconnects_total", a)] == 2
    assert 29 <= found[("k8s_mcp_cache_seconds_since_last_event", a)] < 60
    assert ("k8s_mcp_cache_seconds_since_last_event", b) not in found, "no event yet: no sample"
    assert found[("k8s_mcp_cache_idle_contexts", ())] == 1


def test_the_fanout_tells_its_observer_how_each_call_ended() -> None:
    told: list[tuple[str, str]] = []
    done = threading.Semaphore(0)

    def observer(context: str, status: str, seconds: float) -> None:
        assert seconds >= 0
        told.append((context, status))
        done.release()

    def refused(_: object) -> None:
        raise ClusterUnreachableError("connection refused")

    def missing(_: object) -> None:
        raise NotFoundError("no such pod")

    fanout = Fanout(timeout=5, max_workers=2)
    fanout.observer = observer
    try:
        fanout.submit(ctx("a"), lambda _: "fine", budget=5, what="listing pods")
        fanout.submit(ctx("b"), refused, budget=5, what="listing pods")
        fanout.submit(ctx("c"), missing, budget=5, what="reading a pod")
        for _ in range(3):
            assert done.acquire(timeout=10)
    finally:
        fanout.close()
    assert sorted(told) == [("a", "ok"), ("b", "unreachable"), ("c", "ok")], "a user error is an answer"


def health_app(verdict: Readiness) -> TestClient:
    metrics = Metrics()
    with socket.socket() as unused:
        health = Health(metrics, lambda: verdict, unused)
        return TestClient(health.app)


def test_the_app_answers_probes_and_scrapes_and_counts_its_answers() -> None:
    waiting = Readiness(
        False, "waiting for the watches of 1 context(s) to sync: b", {"a": "synced", "b": "syncing"}
    )
    client = health_app(waiting)
    assert (client.get("/healthz").status_code, client.get("/healthz").text) == (200, "ok\n")
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {
        "ready": False,
        "reason": waiting.reason,
        "contexts": {"a": "synced", "b": "syncing"},
    }
    assert client.get("/nothing").status_code == 404
    scraped = client.get("/metrics")
    assert scraped.headers["content-type"].startswith("text/plain; version=")
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    assert found[("k8s_mcp_http_requests_total", (("code", "2xx"), ("server", "health")))] == 2
    assert found[("k8s_mcp_http_requests_total", (("code", "5xx"), ("server", "health")))] == 1
    assert found[("k8s_mcp_http_requests_total", (("code", "4xx"), ("server", "health")))] == 1
    assert found[("k8s_mcp_ready", ())] == 0
    assert found[("k8s_mcp_contexts", (("state", "syncing"),))] == 1
    ready = health_app(Readiness(True, "1 of 1 context(s) usable", {"a": "synced"}))
    assert ready.get("/readyz").status_code == 200
