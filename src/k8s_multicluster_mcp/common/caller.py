"""Who is calling: the identity an HTTP request authenticated as, for the audit and access logs.

Set by the token verifier in the request's own task (`http_transport`); the MCP SDK hands each
message's context variables to its handler, and `anyio.to_thread` copies them into the worker
thread a tool runs in, so a write's audit line can name its caller without the writes layer
knowing MCP. Unset (stdio, or no authorization): the audit line names nobody.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the token's subject, and its e-mail and groups when it has them."""

    sub: str
    email: str | None = None
    groups: tuple[str, ...] = ()
    user: str | None = None
    """With --authorize-as-caller: the Kubernetes user this caller acts as (the mapped claim, with
    its prefix, or the token map's `user`), and `groups` are then its Kubernetes groups (prefixed).
    None: the caller acts with the server's own identity (no --authorize-as-caller, or the
    operator's static token)."""

    def key(self) -> str:
        """What an answer computed for this caller may be reused under: user and groups, sorted."""
        return "\0".join([self.user or f"sub:{self.sub}", *sorted(self.groups)])

    def describe(self) -> str:
        """`sub=... email=... user=... groups=a,b`: one log field, nothing the token did not say
        (`user`: the Kubernetes user it acts as, with --authorize-as-caller)."""
        parts = [f"sub={self.sub}"]
        if self.email:
            parts.append(f"email={self.email}")
        if self.user is not None:
            parts.append(f"user={self.user}")
        if self.groups:
            parts.append(f"groups={','.join(self.groups)}")
        return " ".join(parts)


current: ContextVar[Caller | None] = ContextVar("k8s_mcp_caller", default=None)


def acting() -> Caller | None:
    """The caller whose own Kubernetes identity this request acts with, or None (the server's)."""
    found = current.get()
    return found if found is not None and found.user is not None else None


def by() -> str:
    """` by sub=...` for a log line when a caller is known, else the empty string."""
    caller = current.get()
    return f" by {caller.describe()}" if caller is not None else ""
