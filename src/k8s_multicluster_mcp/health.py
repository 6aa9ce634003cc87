"""`--health-port`: /healthz, /readyz and /metrics on a port of their own, without the MCP token.

They say nothing about the clusters beyond counts and context names (no objects, no server URLs,
no error texts), so probes and Prometheus reach them without the bearer token. They are served
from the event loop the MCP server runs on (stdio or HTTP): a blocked loop leaves /healthz
unanswered, which is what a liveness probe must see.

- /healthz: 200 `ok` whenever the loop answers.
- /readyz: `query.readiness` over the kubeconfig inventory, the watch cache's status and the last
  report per context; 200 when ready, else 503, with the same JSON body either way.
- /metrics: the Prometheus text format, from `prometheus-client`'s own registry and writer. Calls
  are counted where they pass, without the lower layers knowing Prometheus: the server tells
  `_Server.on_call` of each tools/call, the one `kube.fanout.Fanout` tells its `observer` of each
  call into a cluster, and `counted` wraps an ASGI app to count its answers by status class. The
  watch cache's figures are read when scraped (`CacheCollector` over `cache_status()`), not
  updated per event. Every name starts with `k8s_mcp_`; labels are bounded (tool names, context
  names, kinds, statuses; a tool name no tool has is `unknown`; never pod or object names).
"""

from __future__ import annotations

import contextlib
import logging
import platform
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence

import anyio
import uvicorn
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from k8s_multicluster_mcp import __version__
from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.query.readiness import Readiness, readiness
from k8s_multicluster_mcp.sources.base import CacheEntry, CacheStatus
from k8s_multicluster_mcp.tools import Services

log = logging.getLogger(__name__)

PREFIX = "k8s_mcp"
TOOL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CLUSTER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Calls:
    """Calls of one sort as three series with the same labels: every call, the failed ones, and
    a histogram of their seconds."""

    def __init__(
        self,
        registry: CollectorRegistry,
        labels: Sequence[str],
        buckets: Sequence[float],
        calls: tuple[str, str],
        errors: tuple[str, str],
        seconds: tuple[str, str],
    ) -> None:
        """`calls`, `errors`, `seconds`: each series' name (after `k8s_mcp_`) and help text."""
        self.calls = Counter(f"{PREFIX}_{calls[0]}", calls[1], labels, registry=registry)
        self.errors = Counter(f"{PREFIX}_{errors[0]}", errors[1], labels, registry=registry)
        self.seconds = Histogram(
            f"{PREFIX}_{seconds[0]}", seconds[1], labels, buckets=buckets, registry=registry
        )

    def record(self, labels: Sequence[str], failed: bool, seconds: float) -> None:
        self.calls.labels(*labels).inc()
        if failed:
            self.errors.labels(*labels).inc()
        self.seconds.labels(*labels).observe(seconds)


class Metrics:
    """The process's metrics: one registry of its own (nothing global), and the observers the
    server and the fanout call."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series: noise here
        self.registry = CollectorRegistry()
        r = self.registry
        self.tools = _Calls(
            r,
            ["tool"],
            TOOL_BUCKETS,
            calls=("tool_calls", "tools/call requests"),
            errors=("tool_errors", "tools/call answered with an error"),
            seconds=("tool_call_duration_seconds", "Seconds a tools/call took"),
        )
        self.clusters = _Calls(
            r,
            ["context", "status"],
            CLUSTER_BUCKETS,
            calls=("cluster_requests", "Calls into a cluster by how they ended (ok or why not)"),
            errors=("cluster_errors", "Calls into a cluster that failed, by status"),
            seconds=("cluster_request_duration_seconds", "Seconds a call into a cluster took"),
        )
        self.http_requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP answers by server (mcp, health) and status class",
            ["server", "code"],
            registry=r,
        )
        Info(f"{PREFIX}_build", "The server's version", registry=r).info(
            {"version": __version__, "python": platform.python_version()}
        )
        ProcessCollector(namespace=PREFIX, registry=r)

    def tool_called(self, tool: str, failed: bool, seconds: float) -> None:
        """`server._Server.on_call`."""
        self.tools.record([tool], failed, seconds)

    def cluster_called(self, context: str, status: str, seconds: float) -> None:
        """`kube.fanout.Fanout.observer`."""
        self.clusters.record([context, status], status != "ok", seconds)

    def counted(self, app: ASGIApp, server: str) -> ASGIApp:
        """`app`, its HTTP answers counted by status class (`2xx`, `4xx`, ...)."""

        async def counting(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    self.http_requests.labels(server, f"{int(message['status']) // 100}xx").inc()
                await send(message)

            await app(scope, receive, sending)

        return counting

    def render(self) -> bytes:
        """The Prometheus text format of every metric, collected now."""
        return generate_latest(self.registry)


_CACHE_FIGURES: tuple[tuple[str, str, str, Callable[[CacheEntry], float]], ...] = (
    ("gauge", "cache_objects", "Objects in the watch cache", lambda e: e.objects),
    ("gauge", "cache_synced", "1 when listed and watching", lambda e: float(e.synced and e.healthy)),
    ("gauge", "cache_bytes", "Estimated bytes of the cached objects", lambda e: e.approx_bytes),
    ("counter", "cache_events", "Objects received (list items and watch events)", lambda e: e.events),
    ("counter", "cache_relists", "Full lists after the first (resourceVersion expired)", lambda e: e.relists),
    ("counter", "cache_reconnects", "Watches started again after a failure", lambda e: e.reconnects),
)


class CacheCollector(Collector):
    """Per context and kind, the watch cache's figures, read from `cache_status()` when scraped."""

    def __init__(self, status: Callable[[], CacheStatus | None]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        if status is None:
            return
        labels = ["context", "kind"]
        for kind, name, doc, value in _CACHE_FIGURES:
            family: GaugeMetricFamily | CounterMetricFamily = (
                GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)
                if kind == "gauge"
                else CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)
            )
            for entry in status.entries:
                family.add_metric([entry.context, entry.kind.value], value(entry))
            yield family
        since = GaugeMetricFamily(
            f"{PREFIX}_cache_seconds_since_last_event",
            "Seconds since the watch last heard from the API server",
            labels=labels,
        )
        now = utcnow()
        for entry in status.entries:
            if entry.last_event is not None:
                since.add_metric([entry.context, entry.kind.value], (now - entry.last_event).total_seconds())
        yield since
        yield GaugeMetricFamily(
            f"{PREFIX}_cache_idle_contexts",
            "Contexts whose watches --idle-ttl stopped",
            value=len(status.idle),
        )


class ReadinessCollector(Collector):
    """`k8s_mcp_ready` and the count of contexts per readiness state, when scraped."""

    def __init__(self, check: Callable[[], Readiness]) -> None:
        self._check = check

    def collect(self) -> Iterator[Metric]:
        verdict = self._check()
        yield GaugeMetricFamily(f"{PREFIX}_ready", "1 when /readyz answers 200", value=float(verdict.ready))
        states = GaugeMetricFamily(f"{PREFIX}_contexts", "Contexts by readiness state", labels=["state"])
        for state in sorted(set(verdict.contexts.values())):
            states.add_metric([state], sum(s == state for s in verdict.contexts.values()))
        yield states


class _Quiet(uvicorn.Server):
    """uvicorn without signal handlers of its own: the process's (`cli`) stay in charge, and the
    health server ends when the MCP server does."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` (so a port in use fails at start, with its reason)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    return sock


class Health:
    """The health port's app and the server that runs it beside the MCP server."""

    def __init__(self, metrics: Metrics, check: Callable[[], Readiness], sock: socket.socket) -> None:
        self.metrics = metrics
        self.check = check
        self._sock = sock
        self.stopping = False
        """Set on SIGTERM (`stop`): /readyz answers 503 from then on."""
        metrics.registry.register(ReadinessCollector(check))
        self.app = metrics.counted(
            Starlette(
                routes=[
                    Route("/healthz", self._healthz, methods=["GET"]),
                    Route("/readyz", self._readyz, methods=["GET"]),
                    Route("/metrics", self._metrics, methods=["GET"]),
                ]
            ),
            "health",
        )

    async def _healthz(self, _: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def _readyz(self, _: Request) -> Response:
        verdict = await anyio.to_thread.run_sync(self.check)
        if self.stopping:
            body = {**verdict.as_json(), "ready": False, "reason": "shutting down"}
            return JSONResponse(body, status_code=503)
        return JSONResponse(verdict.as_json(), status_code=200 if verdict.ready else 503)

    def stop(self) -> None:
        """The server is going away: fail readiness so no new traffic is routed here."""
        self.stopping = True

    async def _metrics(self, _: Request) -> Response:
        # Collecting reads the cache's status (locks, a sample of records): off the event loop.
        body = await anyio.to_thread.run_sync(self.metrics.render)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def alongside(self, main: Awaitable[None]) -> None:
        """Serve the health port while `main` (the MCP server) runs, on the same event loop."""
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off")
        server = _Quiet(config)
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve, [self._sock])
            try:
                await main
            finally:
                server.should_exit = True


def build(sock: socket.socket, registry: ContextRegistry, services: Services) -> Health:
    """The health port for these services: readiness over their state, their cluster calls counted
    (give `health.metrics.tool_called` to `server.build_server` for the tool calls)."""
    metrics = Metrics()
    state = services.state

    def check() -> Readiness:
        return readiness(registry.inventory().contexts, state.cache_status(), dict(state.last_reports))

    metrics.registry.register(CacheCollector(state.cache_status))
    services.reader.fanout.observer = metrics.cluster_called
    return Health(metrics, check, sock)


__all__ = ["PREFIX", "CacheCollector", "Health", "Metrics", "ReadinessCollector", "build", "listen"]
