"""`--transport http`: streamable HTTP for a shared server, safe to bind beyond loopback.

An MCP server hands cluster power to whoever talks to it. On loopback that is this machine's
user; on any other interface it is the network, so there every request must carry the operator's
bearer token or one of `--auth-token-map`'s (`tokenmap`, compared in constant time), and the Host
header must name this server (DNS rebinding protection, which the SDK switches off for
non-loopback binds unless it is given the names to accept).

With `--oidc-issuer` the server is an OAuth 2.1 resource server instead (`oidc`): the SDK's own
middleware refuses a request without a valid token with 401 and `WWW-Authenticate: Bearer ...
resource_metadata="<public origin>/.well-known/oauth-protected-resource/mcp"`, and serves that
RFC 9728 document there and (`MetadataAlias`) at the bare `/.well-known/oauth-protected-resource`.
Every request gets an access-log line (`AccessLog`, INFO) naming the caller's subject.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from mcp.server import MCPServer
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.settings import Settings, names_one_interface
from k8s_multicluster_mcp.tokenmap import StaticTokens

log = logging.getLogger(__name__)

PATH = "/mcp"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
METADATA_PATH = "/.well-known/oauth-protected-resource"
access = logging.getLogger("k8s_multicluster_mcp.access")


class _Graceful(uvicorn.Server):
    """uvicorn that drains before it stops: on the first SIGTERM/SIGINT it calls `on_stop` (the
    health port's readiness turns 503), keeps serving for `drain` seconds so load balancers stop
    routing here, then stops taking connections and lets open requests finish within uvicorn's
    `timeout_graceful_shutdown`. A second signal stops at once."""

    def __init__(self, config: uvicorn.Config, drain: float, on_stop: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._drain = drain
        self._on_stop = on_stop
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining or self.should_exit:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        self._captured_signals.append(sig)  # re-raised once serving ends: the CLI then shuts down
        if self._on_stop is not None:
            self._on_stop()
        log.warning(
            "signal %d: not ready; serving %.1fs more, then finishing open requests", sig, self._drain
        )
        timer = threading.Timer(self._drain, setattr, (self, "should_exit", True))
        timer.daemon = True
        timer.start()


class BearerToken:
    """ASGI middleware: every HTTP request needs `Authorization: Bearer <token>` with a static
    token (`tokenmap.StaticTokens`: the operator's or a token map's). It sets the caller
    (`common.caller`) and the request's user as the SDK's own authentication does, so the access
    log names the subject and a session stays with the token that opened it."""

    def __init__(self, app: ASGIApp, tokens: StaticTokens) -> None:
        self.app = app
        self._tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or ()).get(b"authorization", b"")
            scheme, _, token = given.decode("latin-1").partition(" ")
            accepted = self._tokens.verify(token.strip()) if scheme.lower() == "bearer" else None
            if accepted is None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="k8s-multicluster-mcp"'),
                        ],
                    }
                )
                await send(
                    {"type": "http.response.body", "body": b'{"error":"missing or wrong bearer token"}'}
                )
                return
            caller.current.set(accepted.caller)
            scope["user"] = AuthenticatedUser(accepted.access)  # in place: `AccessLog` reads it
        await self.app(scope, receive, send)


class AccessLog:
    """ASGI middleware: one INFO line per HTTP request on `k8s_multicluster_mcp.access`: method,
    path, status, seconds, and the caller's subject when the request authenticated (`-` if not)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.monotonic(), 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            user = scope.get("user")  # set by the SDK's authentication middleware, on this scope
            sub = (
                user.access_token.subject or user.access_token.client_id
                if isinstance(user, AuthenticatedUser)
                else "-"
            )
            access.info(
                "%s %s %d %.3fs %s", scope.get("method", "-"), scope.get("path", "-"), status,
                time.monotonic() - started, sub,
            )  # fmt: skip


class MetadataAlias:
    """ASGI middleware: RFC 9728 metadata at the bare `/.well-known/oauth-protected-resource` too
    (the SDK serves only the form suffixed with the resource's path, which the spec prefers and
    the `WWW-Authenticate` header names; some clients try the bare one first)."""

    def __init__(self, app: ASGIApp, suffixed: str) -> None:
        self.app = app
        self._suffixed = suffixed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == METADATA_PATH:
            scope = {**scope, "path": self._suffixed, "raw_path": self._suffixed.encode()}
        await self.app(scope, receive, send)


def _host_patterns(hosts: tuple[str, ...]) -> list[str]:
    return [pattern for host in hosts for pattern in (host, f"{host}:*")]


def security(settings: Settings) -> TransportSecuritySettings:
    """Host/Origin checks: loopback names, plus --allowed-hosts (and the bind address if specific)."""
    hosts = list(LOOPBACK_HOSTS)
    if settings.exposed and names_one_interface(settings.host):
        hosts.append(f"[{settings.host}]" if ":" in settings.host else settings.host)
    hosts.extend(settings.allowed_hosts)
    allowed = _host_patterns(tuple(dict.fromkeys(hosts)))
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowed,
        allowed_origins=[f"{scheme}://{pattern}" for pattern in allowed for scheme in ("http", "https")],
    )


def serve(
    server: MCPServer[Any],
    settings: Settings,
    contexts: int,
    *,
    wrap: Callable[[ASGIApp], ASGIApp] | None = None,
    alongside: Callable[[Awaitable[None]], Awaitable[None]] | None = None,
    on_stop: Callable[[], None] | None = None,
    tokens: StaticTokens | None = None,
) -> None:
    """Serve streamable HTTP at http://HOST:PORT/mcp until SIGINT/SIGTERM. `tokens` (the static
    tokens, `tokenmap.from_settings`) guard it when there is no OIDC issuer; `wrap` wraps the app
    (outermost: it sees the token's refusals too); `alongside` runs the server's coroutine beside
    another server on the same event loop (the health port); `on_stop` is called at the first
    SIGTERM/SIGINT, before `settings.shutdown_grace` runs out (see `_Graceful`)."""
    checks = security(settings)
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=PATH,
        transport_security=checks,
        host=settings.host,
        stateless_http=settings.stateless,
    )
    if settings.oidc_issuer is not None:
        suffixed = METADATA_PATH + urlsplit(settings.resource_url).path.rstrip("/")
        if suffixed != METADATA_PATH:
            app = MetadataAlias(app, suffixed)
    elif tokens is not None:
        app = BearerToken(app, tokens)
    app = AccessLog(app)
    if wrap is not None:
        app = wrap(app)
    where = f"http://{settings.host or '<every interface>'}:{settings.port}{PATH}"
    if settings.exposed:
        log.warning(
            "serving streamable HTTP on %s to the network: anyone with the bearer token can read %d "
            "context(s) (names, server URLs, kubeconfig file paths) and everything those credentials "
            "may read; Host header must be one of: %s",
            where,
            contexts,
            ", ".join(h for h in checks.allowed_hosts if not h.endswith(":*")),
        )
    else:
        log.warning("serving streamable HTTP on %s", where)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace * 3 / 4)),
    )
    main = _Graceful(config, settings.shutdown_grace / 4, on_stop)
    if alongside is None:
        main.run()
    else:
        asyncio.run(alongside(main.serve()))  # type: ignore[arg-type]


__all__ = ["AccessLog", "BearerToken", "MetadataAlias", "security", "serve"]
