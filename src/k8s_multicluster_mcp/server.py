"""The composition root: builds the context registry, the one Fanout, the source (live, or the
watch cache in front of it), the query state, the reader and the writer once, hands the tools
the services they name, and closes each once at shutdown."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp.server import MCPServer
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool, ToolManager
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    BlobResourceContents,
    CallToolResult,
    GetPromptResult,
    Icon,
    InputRequiredResult,
    ReadResourceRequestParams,
    ReadResourceResult,
    TextResourceContents,
    ToolAnnotations,
)
from mcp_types import Resource as MCPResource
from mcp_types import ResourceTemplate as MCPResourceTemplate
from mcp_types import Tool as MCPTool
from pydantic import ValidationError

from k8s_multicluster_mcp import __version__
from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.common.text import shown
from k8s_multicluster_mcp.kube import deadlines, execplugin
from k8s_multicluster_mcp.kube.client import load_kubernetes
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.model.changes import ChangeJournal
from k8s_multicluster_mcp.model.redact import Redactor
from k8s_multicluster_mcp.model.triage import Rules
from k8s_multicluster_mcp.prompts import invalid, register_prompts
from k8s_multicluster_mcp.query.access import Access
from k8s_multicluster_mcp.query.objects import ObjectReader, context_namespace
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.resources import (
    JSON,
    STATIC,
    TEMPLATE,
    TEXT,
    FleetResources,
    as_json,
    serve_subscriptions,
)
from k8s_multicluster_mcp.settings import Settings
from k8s_multicluster_mcp.sources import LiveSource
from k8s_multicluster_mcp.sources.watch import WatchSource
from k8s_multicluster_mcp.tools import Services, register_tools
from k8s_multicluster_mcp.tools.base import argument_errors
from k8s_multicluster_mcp.tools.schemas import compact
from k8s_multicluster_mcp.writes.writer import ObjectWriter

log = logging.getLogger(__name__)
ToolObserver = Callable[[str, bool, float], None]
"""(tool, or `unknown` for a name no tool has; whether it failed; seconds): see `_Server.on_call`."""

INSTRUCTIONS = """\
Answers questions about many Kubernetes clusters (kubeconfig contexts) at once.
Tools take `context`: omit it for every cluster, or give a name, a unique part of one, a glob
('prod-*') or a comma-separated list. Every answer starts with how many clusters answered, whether
the data is live or cached and how old it is; a cluster that did not answer is named with the
reason (unreachable, forbidden, auth-error, timeout) while the others still answer.
Start with k8s_get_contexts to see the clusters."""


def build_registry(settings: Settings, *, directory_explicit: bool = False) -> ContextRegistry:
    return ContextRegistry(
        directory=settings.kubeconfig_dir,
        directory_explicit=directory_explicit,
        files=settings.kubeconfig,
        env_files=settings.kubeconfig_env,
        allow=settings.contexts,
        in_cluster=None if settings.no_in_cluster else settings.in_cluster_context,
        service_account_dir=settings.service_account_dir,
    )


def build_services(settings: Settings, registry: ContextRegistry) -> Services:
    """Everything the tools use, each built once: one Fanout (the pool and per-cluster bound of
    every live call), the live source on it, with --watch the watch cache in front of it (which
    asks the live source whatever it cannot answer itself), the query state over the source, the
    any-kind reader and the writer. `Services.close` closes each once."""
    fanout = Fanout(timeout=settings.request_timeout, max_workers=settings.max_workers)
    live = LiveSource(registry, timeout=settings.request_timeout, ttl=settings.cache_ttl, fanout=fanout)
    rules = Rules(pending_grace=settings.pending_grace, restart_threshold=settings.restart_threshold)
    redactor = Redactor(
        allow_secret_values=settings.allow_secret_values, sensitive_env=settings.sensitive_env_pattern
    )
    # With --authorize-as-caller, answers of the shared cache are cut to what each caller may list,
    # and a live read forbidden cluster-wide narrows to the namespaces the caller may list.
    ttl = settings.authorization_ttl
    access = Access(registry, fanout, live, ttl=ttl) if settings.authorize_as_caller else None
    reader = ObjectReader(
        registry, fanout, redactor, namespaces_for=access.namespaces_for if access else context_namespace
    )
    writer = ObjectWriter(
        reader, fanout, redactor, disable_destructive=settings.disable_destructive, on_write=live.forget
    )
    if not settings.watch:
        return Services(ClusterState(registry, live, rules, access=access), reader, writer)
    journal = ChangeJournal(rules)
    source = WatchSource(
        registry,
        live,
        request_timeout=settings.request_timeout,
        list_timeout=settings.list_timeout,
        stale_after=settings.stale_after,
        idle_ttl=settings.idle_ttl,
        on_change=journal.record,
        rules=rules,
    )
    return Services(ClusterState(registry, source, rules, journal, access), reader, writer)


class _LazyTools(ToolManager):
    """The SDK's tool manager, but the tools are registered, and each is built, when first needed.

    Building one (`Tool.from_function`: a pydantic model of its arguments, their validators, the
    JSON schema) costs milliseconds of CPU; for every tool at start that was most of what
    `initialize` waited for beyond a bare server. A built tool is the SDK's own, so calls validate
    exactly as before, and `list_tools` keeps registration order whatever was built first.
    """

    def __init__(self, tools: list[Tool], *, warn_on_duplicate_tools: bool) -> None:
        super().__init__(warn_on_duplicate_tools, tools=tools)
        self._pending: dict[str, Callable[[], Tool]] = {}
        self._order: dict[str, int] = {}
        self._register: Callable[[], object] | None = None

    def register_later(self, register: Callable[[], object]) -> None:
        """Run `register` (which adds the tools) when a tool is first listed, called or removed:
        the toolset modules are imported then, not before `initialize` is answered."""
        self._register = register

    def _registered(self) -> None:
        register, self._register = self._register, None
        if register is not None:
            register()

    def defer(self, name: str, build: Callable[[], Tool]) -> None:
        """Register `name`, to be built by `build` when first needed; the first of a name wins."""
        if name in self._order or name in self._tools:
            if self.warn_on_duplicate_tools:
                log.warning("Tool already exists: %s", name)
            return
        self._order[name] = len(self._order)
        self._pending[name] = build

    def names(self) -> list[str]:
        """Every registered tool's name, in registration order, without building any."""
        self._registered()
        return sorted({*self._order, *self._tools}, key=lambda name: self._order.get(name, -1))

    def get_tool(self, name: str) -> Tool | None:
        self._registered()
        build = self._pending.pop(name, None)
        if build is not None:
            self._tools[name] = build()
        return super().get_tool(name)

    def list_tools(self) -> list[Tool]:
        self._registered()
        for name in list(self._pending):
            self.get_tool(name)
        return sorted(super().list_tools(), key=lambda tool: self._order.get(tool.name, -1))

    def remove_tool(self, name: str) -> None:
        self._registered()
        self._order.pop(name, None)
        if self._pending.pop(name, None) is None:
            super().remove_tool(name)


class _Server(MCPServer[Any]):
    """`MCPServer` whose tools are built when first needed (`_LazyTools`), whose argument errors
    are one line naming the argument and what is valid (the SDK's are pydantic's multi-line report
    with documentation URLs), and whose `tools/list` is compact: it is sent to the model with every
    request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy_tools = _LazyTools(
            self._tool_manager.list_tools(), warn_on_duplicate_tools=self.settings.warn_on_duplicate_tools
        )
        self._tool_manager = self._lazy_tools

    def add_tool(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> None:
        self._lazy_tools.defer(
            name or fn.__name__,
            functools.partial(
                Tool.from_function,
                fn,
                name=name,
                title=title,
                description=description,
                annotations=annotations,
                icons=icons,
                meta=meta,
                structured_output=structured_output,
            ),
        )

    async def list_tools(self) -> list[MCPTool]:
        return [
            tool.model_copy(
                update={
                    "input_schema": compact(tool.input_schema),
                    "output_schema": compact(tool.output_schema, descriptions=False),
                }
            )
            for tool in await super().list_tools()
        ]

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        if self._prompt_manager.get_prompt(name) is None:
            valid = ", ".join(p.name for p in self._prompt_manager.list_prompts())
            raise invalid(f"unknown prompt {shown(name)}; valid: {valid}")
        return await super().get_prompt(name, arguments, context)

    on_call: ToolObserver | None = None
    """Told of every tools/call (the health port's metrics); None: nothing is told."""

    fleet_resources: FleetResources | None = None
    """The k8s:// resources (`resources`): listed and read here, not through the SDK's manager,
    so that a read carries the text and the JSON and a cache hint from the data's age."""

    async def list_resources(self) -> list[MCPResource]:
        ours = [
            MCPResource(uri=r.uri, name=r.name, title=r.title, description=r.description, mime_type=TEXT)
            for r in STATIC
        ]
        return ours + await super().list_resources()

    async def list_resource_templates(self) -> list[MCPResourceTemplate]:
        t = TEMPLATE
        ours = MCPResourceTemplate(
            uri_template=t.uri, name=t.name, title=t.title, description=t.description, mime_type=TEXT
        )
        return [ours, *await super().list_resource_templates()]

    async def _handle_read_resource(
        self, ctx: ServerRequestContext[Any], params: ReadResourceRequestParams
    ) -> ReadResourceResult | InputRequiredResult:
        uri = str(params.uri)
        try:
            document = await self.fleet_resources.read(uri) if self.fleet_resources else None
        except UserError as exc:
            raise MCPError(INVALID_PARAMS, str(exc), data={"uri": uri}) from exc
        if document is None:
            return await super()._handle_read_resource(ctx, params)
        contents: list[TextResourceContents | BlobResourceContents] = [
            TextResourceContents(uri=uri, text=document.text, mime_type=TEXT)
        ]
        if document.data is not None:
            contents.append(TextResourceContents(uri=uri, text=as_json(document.data), mime_type=JSON))
        # Private: an answer depends on the caller's rights (--authorize-as-caller).
        return ReadResourceResult(contents=contents, ttl_ms=document.ttl_ms, cache_scope="private")

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        if self.on_call is None:
            return await self._call_tool(name, arguments, context)
        started, failed = time.monotonic(), True
        try:
            result = await self._call_tool(name, arguments, context)
            failed = isinstance(result, CallToolResult) and bool(result.is_error)
            return result
        finally:
            known = self._lazy_tools.get_tool(name) is not None
            self.on_call(name if known else "unknown", failed, time.monotonic() - started)

    async def _call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            tool = self._lazy_tools.get_tool(name)
            schema = compact(tool.parameters) if tool is not None else {}
            raise ToolError(argument_errors(name, schema, exc.__cause__)) from exc.__cause__


def build_server(
    settings: Settings,
    services: Services,
    on_call: ToolObserver | None = None,
    auth: tuple[AuthSettings, TokenVerifier] | None = None,
) -> MCPServer[Any]:
    """The MCP server with every tool the settings allow and the workflow prompts; it never
    contacts a cluster to start.
    `on_call` is told of every tools/call (the health port's metrics); `auth` makes it an OAuth
    resource server over HTTP (`oidc.from_settings`)."""

    bus = InMemorySubscriptionBus()

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        services.state.source.start()
        threading.Thread(target=_preload_client, name="k8s-preload", daemon=True).start()
        # The resource updates' loop lives as long as the server, on its event loop (a task, not a
        # task group: a task group may not span the yield of a lifespan entered and left in
        # different tasks).
        announcing = asyncio.get_running_loop().create_task(updates.run()) if updates else None
        try:
            yield
        finally:
            if announcing is not None:
                announcing.cancel()
            shutdown(services)

    server = _Server(
        "k8s-multicluster-mcp",
        title="Kubernetes multi-cluster",
        instructions=INSTRUCTIONS,
        version=__version__,
        website_url="https://github.com/razvanmacovei/k8s-multicluster-mcp",
        log_level=settings.log_level,
        lifespan=lifespan,
        auth=auth[0] if auth else None,
        token_verifier=auth[1] if auth else None,
        subscriptions=bus,
    )
    registration = settings.registration()

    def register() -> None:
        names = register_tools(server, services, registration)
        log.info("registered %d tools: %s", len(names), ", ".join(names))

    server._lazy_tools.register_later(register)
    register_prompts(server, server._lazy_tools.names, services.state.registry.resolve)
    server.fleet_resources = FleetResources(services, settings.cache_ttl)
    updates = serve_subscriptions(server._lowlevel_server, bus, services.state.journal)
    server.on_call = on_call
    return server


PRELOAD_DELAY = 1.0
"""Seconds after start before the kubernetes client is imported in the background: long enough
for `initialize` to be answered first (the import takes half a second of CPU), short enough that
the first question rarely pays for it."""


def _preload_client() -> None:
    time.sleep(PRELOAD_DELAY)
    load_kubernetes()


def shutdown(services: Services) -> None:
    """Stop every call into a cluster now: cut their connections, kill credential plugins and
    their children. Idempotent; after it no thread of ours is left waiting on a cluster."""
    services.close()
    deadlines.cancel_all()
    execplugin.kill_all()
    services.state.registry.close()
