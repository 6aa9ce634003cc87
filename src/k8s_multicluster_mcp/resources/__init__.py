"""MCP resources: the fleet's state as documents a client reads, and with --watch subscribes to.

- `k8s://fleet/summary`, `k8s://fleet/failing-pods`, `k8s://contexts`: what `k8s_fleet_summary`,
  `k8s_fleet_failing_pods` (its defaults) and `k8s_get_contexts` answer, the same code, given as
  two contents: the text the model reads and the structured answer as JSON.
- `k8s://{context}/{kind}/{namespace}/{name}`: one object as `k8s_get_resource` shows it
  (redacted the same way); `-` as the namespace of a cluster-scoped object (a node).

Each read carries a cache hint (`ttlMs`) from the data's real age and source: a live answer may
be reused while the server itself would reuse it (`--cache-ttl` minus its age); a cached one
for `UPDATE_INTERVAL` (a change is announced within it); 0 when a cluster did not answer.

With --watch a client may subscribe to the fleet resources (`resources/subscribe` before protocol
2026-07-28, `subscriptions/listen` after): `Updates` reads the change journal every
`UPDATE_INTERVAL` and announces the resources whose content a change may have touched (a pod
started failing or recovered, a deployment's availability or a node's readiness changed), so
at most one notification per resource per interval. Without --watch nothing would notice a
change: subscribing is refused with one line saying updates need --watch.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolResult,
    EmptyResult,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    TextContent,
    UnsubscribeRequestParams,
)

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.common.text import shown
from k8s_multicluster_mcp.model.changes import ChangeJournal
from k8s_multicluster_mcp.tools.base import Services

log = logging.getLogger(__name__)

FLEET_SUMMARY = "k8s://fleet/summary"
FLEET_FAILING_PODS = "k8s://fleet/failing-pods"
CONTEXTS = "k8s://contexts"
OBJECT = "k8s://{context}/{kind}/{namespace}/{name}"
TEXT, JSON = "text/plain", "application/json"
CLUSTER_SCOPED = "-"
"""The namespace segment of a cluster-scoped object's URI."""
SUBSCRIBABLE = (FLEET_SUMMARY, FLEET_FAILING_PODS)
UPDATE_INTERVAL = 1.0
"""Seconds between two looks at the change journal: at most one notification per resource per
interval, and how long a cached answer's hint says it stays fresh."""
TOUCHES = {
    "Pod": (FLEET_FAILING_PODS, FLEET_SUMMARY),
    "Deployment": (FLEET_SUMMARY,),
    "Node": (FLEET_SUMMARY,),
}
"""Which fleet resources a journal change of each kind may change."""

_OBJECT = re.compile(r"^k8s://(?P<context>[^/]+)/(?P<kind>[^/]+)/(?P<namespace>[^/]+)/(?P<name>[^/]+)$")


@dataclass(frozen=True)
class Document:
    """A resource as read: the text, the same answer as JSON, how long a client may reuse it."""

    text: str
    data: dict[str, Any] | None
    ttl_ms: int


@dataclass(frozen=True)
class Listed:
    """A resource or template as `resources/list` and `resources/templates/list` name it."""

    uri: str
    name: str
    title: str
    description: str


STATIC = (
    Listed(FLEET_SUMMARY, "fleet-summary", "Fleet summary", "One line per cluster: nodes, pods by phase, "
           "failing pods by reason, deployments available; fleet totals. Subscribable with --watch."),
    Listed(FLEET_FAILING_PODS, "fleet-failing-pods", "Failing pods everywhere", "Failing pods of every "
           "cluster, most severe first (50 named, all counted). Subscribable with --watch."),
    Listed(CONTEXTS, "contexts", "Kubeconfig contexts", "Every usable context: file, API server, auth, "
           "last status; unreadable files."),
)  # fmt: skip
TEMPLATE = Listed(
    OBJECT, "object", "One object", f"One object of any kind, redacted like k8s_get_resource; namespace "
    f"{CLUSTER_SCOPED!r} for a cluster-scoped kind (a node).",
)  # fmt: skip


def parse_object(uri: str) -> dict[str, str | None] | None:
    """The arguments of `k8s_get_resource` a template URI names, or None if it is not one."""
    found = _OBJECT.match(uri)
    if found is None:
        return None
    args: dict[str, str | None] = dict(found.groupdict())
    if args["namespace"] == CLUSTER_SCOPED:
        args["namespace"] = None
    return args


def ttl_ms(data: dict[str, Any] | None, cache_ttl: float) -> int:
    """How long a client may reuse an answer, from its clusters' provenance: the shortest over the
    clusters that answered; 0 when any did not (asking again may find it back)."""
    clusters = (data or {}).get("clusters") or []
    if not clusters:
        return int(UPDATE_INTERVAL * 1000)
    fresh: list[float] = []
    for cluster in clusters:
        if cluster.get("status") != "ok":
            return 0
        if cluster.get("source") == "cache":
            fresh.append(UPDATE_INTERVAL)
        else:
            fresh.append(max(0.0, cache_ttl - float(cluster.get("age_seconds") or 0.0)))
    return int(min(fresh) * 1000)


def _document(result: CallToolResult, cache_ttl: float) -> Document:
    text = "\n".join(c.text for c in result.content if isinstance(c, TextContent))
    if result.is_error and not result.structured_content:
        raise UserError(text)
    data = result.structured_content
    return Document(text, data, ttl_ms(data, cache_ttl))


class FleetResources:
    """Reads the resources through the tools' own functions (same query, same renderer)."""

    def __init__(self, services: Services, cache_ttl: float) -> None:
        self._services = services
        self._cache_ttl = cache_ttl

    async def read(self, uri: str) -> Document | None:
        """The resource at `uri`, None if it is not one of ours; a bad URI is a `UserError`."""
        from k8s_multicluster_mcp.tools import core, fleet

        state, reader = self._services.state, self._services.reader
        calls: dict[str, Callable[[], Awaitable[CallToolResult]]] = {
            FLEET_SUMMARY: lambda: fleet.k8s_fleet_summary(state),
            FLEET_FAILING_PODS: lambda: fleet.k8s_fleet_failing_pods(state),
            CONTEXTS: lambda: core.k8s_get_contexts(state),
        }
        if uri in calls:
            return _document(await calls[uri](), self._cache_ttl)
        args = parse_object(uri)
        if args is None:
            if uri.startswith("k8s://"):
                raise UserError(
                    f"unknown resource {shown(uri)}; valid: {', '.join(calls)} or {OBJECT} "
                    f"({CLUSTER_SCOPED!r} as the namespace of a cluster-scoped object)"
                )
            return None
        kind, name = str(args["kind"]), str(args["name"])
        result = await core.k8s_get_resource(
            state, reader, kind, name, context=args["context"], namespace=args["namespace"]
        )
        return _document(result, self._cache_ttl)


class Subscribers:
    """Who subscribed to which fleet resource through `resources/subscribe` (protocol before
    2026-07-28), per session; a session that goes away is forgotten with it."""

    def __init__(self) -> None:
        self._sessions: dict[str, weakref.WeakSet[Any]] = {uri: weakref.WeakSet() for uri in SUBSCRIBABLE}

    def add(self, uri: str, session: Any) -> None:
        self._sessions[uri].add(session)

    def remove(self, uri: str, session: Any) -> None:
        self._sessions[uri].discard(session)

    async def tell(self, uri: str) -> None:
        for session in list(self._sessions[uri]):
            try:
                await session.send_resource_updated(uri)
            except Exception:  # a closed stream: that subscriber is gone
                log.debug("resource update to a closed session dropped", exc_info=True)
                self._sessions[uri].discard(session)


def check_subscribable(uri: str, watching: bool) -> None:
    """A `UserError` unless `uri` can be subscribed to on this server."""
    if uri not in SUBSCRIBABLE:
        raise UserError(f"{shown(uri)} cannot be subscribed to; subscribable: {', '.join(SUBSCRIBABLE)}")
    if not watching:
        raise UserError(
            f"updates of {uri} need --watch (this server answers live and notices no change); "
            "read it again instead"
        )


class Updates:
    """Announces changed fleet resources from the change journal, once per interval at most."""

    def __init__(self, journal: ChangeJournal, announce: Callable[[str], Awaitable[None]]) -> None:
        self._journal = journal
        self._announce = announce
        self._mark = 0

    def due(self) -> list[str]:
        """The fleet resources the changes since the last look may have changed."""
        self._mark, kinds = self._journal.changed_kinds(self._mark)
        return sorted({uri for kind in kinds for uri in TOUCHES.get(kind, ())})

    async def run(self) -> None:
        """Until cancelled: look every `UPDATE_INTERVAL` seconds, announce what is due."""
        self._mark, _ = self._journal.changed_kinds(0)
        while True:
            await anyio.sleep(UPDATE_INTERVAL)
            for uri in await anyio.to_thread.run_sync(self.due):
                try:
                    await self._announce(uri)
                except Exception:
                    log.warning("announcing an update of %s failed", uri, exc_info=True)


def serve_subscriptions(
    lowlevel: Any, bus: InMemorySubscriptionBus, journal: ChangeJournal | None
) -> Updates | None:
    """Serve `resources/subscribe`/`unsubscribe` and a `subscriptions/listen` that refuses what
    cannot be served (`check_subscribable`) on the SDK's low-level server, announcing through both
    the legacy per-session notification and `bus` (the listen streams). Returns the loop that
    announces (None without --watch: no journal, nothing to announce)."""
    subscribers = Subscribers()
    listen = ListenHandler(bus)
    watching = journal is not None

    def checked(uri: str) -> None:
        try:
            check_subscribable(uri, watching)
        except UserError as exc:
            raise MCPError(INVALID_PARAMS, str(exc), data={"uri": uri}) from exc

    async def subscribe(ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        checked(str(params.uri))
        subscribers.add(str(params.uri), ctx.session)
        return EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams) -> EmptyResult:
        if str(params.uri) in SUBSCRIBABLE:
            subscribers.remove(str(params.uri), ctx.session)
        return EmptyResult()

    async def listen_checked(
        ctx: ServerRequestContext[Any], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        for uri in (params.notifications.resource_subscriptions or []) if params.notifications else []:
            checked(str(uri))
        return await listen(ctx, params)

    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    lowlevel.add_request_handler("subscriptions/listen", SubscriptionsListenRequestParams, listen_checked)
    if journal is None:
        return None

    async def announce(uri: str) -> None:
        await bus.publish(ResourceUpdated(uri=uri))
        await subscribers.tell(uri)

    return Updates(journal, announce)


def as_json(data: dict[str, Any] | None) -> str:
    return orjson.dumps(data).decode() if data is not None else "null"


__all__ = [
    "CLUSTER_SCOPED",
    "CONTEXTS",
    "FLEET_FAILING_PODS",
    "FLEET_SUMMARY",
    "JSON",
    "OBJECT",
    "STATIC",
    "SUBSCRIBABLE",
    "TEMPLATE",
    "TEXT",
    "Document",
    "FleetResources",
    "Subscribers",
    "Updates",
    "as_json",
    "check_subscribable",
    "parse_object",
    "serve_subscriptions",
    "ttl_ms",
]
