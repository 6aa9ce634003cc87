"""`BearerToken`: the static-token check of an HTTP server without an OIDC issuer. It refuses a
missing or wrong token with 401, and for a good one sets the caller and the request's user (what
the access log names and what a session is bound to)."""

from __future__ import annotations

from pathlib import Path

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from pydantic import SecretStr
from starlette.types import Message, Receive, Scope, Send

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.http_transport import BearerToken
from k8s_multicluster_mcp.tokenmap import StaticTokens, TokenMap

OPERATOR_TOKEN = "o" * 24
ALICE = "alice-token-0123456789"


def _call(
    middleware: BearerToken, authorization: str | None
) -> tuple[int, Scope | None, caller.Caller | None]:
    """The status sent and, if the app was reached, its scope and the caller it saw."""
    reached: list[tuple[Scope, caller.Caller | None]] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append((scope, caller.current.get()))
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    middleware.app = app
    headers = [(b"authorization", authorization.encode())] if authorization is not None else []
    scope: Scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": headers}

    async def run() -> None:
        caller.current.set(None)
        await middleware(scope, receive, send)

    anyio.run(run)
    status = int(sent[0]["status"])
    return (status, *reached[0]) if reached else (status, None, None)


def test_static_tokens_guard_the_app_and_name_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(f"- token: {ALICE}\n  user: alice@example.com\n  groups: [team-a]\n")
    tokens = StaticTokens(SecretStr(OPERATOR_TOKEN), TokenMap(path), authorize_as_caller=True)
    middleware = BearerToken(lambda scope, receive, send: None, tokens)  # type: ignore[arg-type,return-value]

    for refused in (
        None,
        "",
        "Bearer",
        f"Basic {ALICE}",
        f"Bearer {ALICE}x",
        f"Bearer {OPERATOR_TOKEN[:-1]}",
    ):
        assert _call(middleware, refused) == (401, None, None), refused

    status, scope, seen = _call(middleware, f"Bearer {ALICE}")
    assert status == 200 and scope is not None
    assert seen == caller.Caller("alice@example.com", groups=("team-a",), user="alice@example.com")
    user = scope["user"]
    assert isinstance(user, AuthenticatedUser) and user.access_token.subject == "alice@example.com"

    status, scope, seen = _call(middleware, f"bearer {OPERATOR_TOKEN}")
    assert (status, seen) == (200, caller.Caller("operator"))
    assert scope is not None and scope["user"].access_token.subject == "operator"
