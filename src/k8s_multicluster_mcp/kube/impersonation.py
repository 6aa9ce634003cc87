"""Requests that act as the caller: `Impersonate-User` and `Impersonate-Group` headers.

With --authorize-as-caller, what a request sends to an API server (reads of any kind, logs,
events, exec, every write) carries the identity `caller.acting()` names in the thread that sends
it, so each cluster's own RBAC decides and its audit log names the caller (issue 20, design rule
3). Every API client adds them in `call_api` (`client.new_client`) and the exec websocket in its
handshake (`install_websocket`), so no call can forget them. The cached kinds' lists are read with
the server's own identity (`as_server`), shared by every caller (rule 2); a watch thread never
carries a caller (`empty_context`).

The groups are sent as one header each: the API server reads every value as one group, and a
comma-joined value would be one group named "a,b".
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.common.caller import Caller
from k8s_multicluster_mcp.common.errors import UserError

if TYPE_CHECKING:
    from urllib3 import HTTPHeaderDict

T = TypeVar("T")

USER = "Impersonate-User"
GROUP = "Impersonate-Group"
_HEADER_VALUE = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$")
"""What a header value may be here: printable ASCII, no surrounding space (the API server compares
names byte for byte; anything else would not reach it as written, or not at all)."""


def headers(who: Caller | None) -> list[tuple[str, str]]:
    """The headers that make a request act as `who`: one `Impersonate-User`, one
    `Impersonate-Group` per group; none when `who` acts with the server's identity."""
    if who is None or who.user is None:
        return []
    for value, what in ((who.user, "user name"), *((g, "group") for g in who.groups)):
        if not _HEADER_VALUE.match(value):
            raise UserError(
                f"cannot act as {what} {value!r} in a Kubernetes request: impersonated names must be "
                "printable ASCII without surrounding spaces"
            )
    return [(USER, who.user), *((GROUP, group) for group in who.groups)]


def with_caller(params: Mapping[str, str] | None) -> Mapping[str, str] | HTTPHeaderDict | None:
    """`params` (a request's headers) plus those of the caller this thread acts for; `params`
    itself when it acts for nobody. Repeated headers need urllib3's `HTTPHeaderDict`, which
    the kubernetes client passes through to the connection as they are."""
    extra = headers(caller.acting())
    if not extra:
        return params
    from urllib3 import HTTPHeaderDict

    out = HTTPHeaderDict(params or {})
    out.discard(USER)
    out.discard(GROUP)
    for name, value in extra:
        out.add(name, value)
    return out


@contextmanager
def acting_as(who: Caller | None) -> Iterator[None]:
    """The enclosed calls (and the threads they hand work to) act as `who`; None: as the server."""
    token = caller.current.set(who)
    try:
        yield
    finally:
        caller.current.reset(token)


def as_server() -> contextlib.AbstractContextManager[None]:
    """The enclosed calls use the server's own identity: the cached kinds' lists, shared by every
    caller, and discovery."""
    return acting_as(None)


def empty_context(fn: Callable[[], T]) -> Callable[[], T]:
    """`fn` run in a fresh, empty context: a long-lived thread (a watch) that a caller's question
    started must not act for that caller, whichever Python starts it (3.14 can copy the starting
    thread's context into a new thread)."""
    return functools.partial(contextvars.Context().run, fn)


@functools.cache
def install_websocket() -> None:
    """Make the kubernetes client's websockets (exec) send the impersonation headers too: its
    handshake forwards only the authorization header of a request, so they are added where it
    connects, read from the connecting thread's caller. Done once, on the first exec."""
    from kubernetes.stream import ws_client

    base: type[Any] = vars(ws_client)["WebSocket"]  # websocket-client's, as ws_client imported it

    class ImpersonatingWebSocket(base):  # type: ignore[misc]
        def connect(self, url: str, **options: Any) -> Any:
            extra = [f"{name}: {value}" for name, value in headers(caller.acting())]
            if extra:
                options["header"] = [*(options.get("header") or ()), *extra]
            return super().connect(url, **options)

    vars(ws_client)["WebSocket"] = ImpersonatingWebSocket


__all__ = [
    "GROUP",
    "USER",
    "acting_as",
    "as_server",
    "empty_context",
    "headers",
    "install_websocket",
    "with_caller",
]
