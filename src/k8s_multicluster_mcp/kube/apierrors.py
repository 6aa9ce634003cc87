"""Turn what the kubernetes client and urllib3 raise into one `ClusterError` with a clear reason."""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl

import urllib3.exceptions as u3
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.common.errors import (
    ClusterApiError,
    ClusterAuthError,
    ClusterError,
    ClusterForbiddenError,
    ClusterTimeoutError,
    ClusterUnreachableError,
)

log = logging.getLogger(__name__)


def _status_message(exc: ApiException) -> str:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.startswith("{"):
        try:
            message = json.loads(body).get("message")
        except ValueError:
            message = None
        if isinstance(message, str) and message:
            return message
    return str(exc.reason or "").strip() or f"HTTP {exc.status}"


def _network_reason(exc: BaseException) -> ClusterError:
    """Classify a transport-level failure, looking through urllib3's wrappers.

    Order matters: urllib3's NewConnectionError subclasses ConnectTimeoutError, and
    NameResolutionError subclasses NewConnectionError.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, u3.MaxRetryError) and current.reason is not None:
            current = current.reason
            continue
        if isinstance(current, u3.NameResolutionError):
            return ClusterUnreachableError("DNS lookup failed for the API server host")
        if isinstance(current, ConnectionRefusedError) or "Connection refused" in str(current):
            return ClusterUnreachableError("connection refused")
        if isinstance(current, u3.NewConnectionError):
            return ClusterUnreachableError(f"cannot connect: {current}")
        if isinstance(current, (u3.ConnectTimeoutError, u3.ReadTimeoutError, socket.timeout, TimeoutError)):
            what = "read" if isinstance(current, u3.ReadTimeoutError) else "connect"
            return ClusterTimeoutError(f"timed out ({what})")
        if isinstance(current, (u3.SSLError, ssl.SSLError)):
            return ClusterUnreachableError(f"TLS handshake failed: {current}")
        if isinstance(current, u3.ProxyError):
            return ClusterUnreachableError(f"proxy error: {current}")
        if isinstance(current, (u3.ProtocolError, ConnectionError)):
            return ClusterUnreachableError(f"connection lost: {current}")
        current = current.__cause__ or current.__context__
    return ClusterUnreachableError(f"cannot reach the API server: {exc}")


_DENIED = re.compile(
    r'^User "[^"]*" cannot (?P<verb>\S+) resource "(?P<resource>[^"]+)"'
    r'(?: in API group "(?P<group>[^"]*)")?'
    r'(?: in the namespace "(?P<namespace>[^"]+)"| (?P<cluster>at the cluster scope))?'
)


def forbidden_for(user: str, reason: str) -> str:
    """A 403 of a request made as `user`, in one line that names them: "forbidden for alice:
    cannot list secrets in namespace prod" (the API server's reason as it is, when it is not
    one of RBAC's "User … cannot …" sentences)."""
    found = _DENIED.match(reason)
    if found is None:
        return f"forbidden for {user}: {reason}"
    if found["verb"].startswith("impersonate"):  # the server's identity was refused, not the caller
        # ("impersonate", or "impersonate-on:user-info:list" where constrained impersonation is on)
        needs = "it needs impersonate on users and groups"
        return f"the server's identity may not act as {user} ({needs}): {reason}"
    group = found["group"]
    what = f"{found['resource']}.{group}" if group else found["resource"]
    where = (
        f" in namespace {found['namespace']}"
        if found["namespace"]
        else (" " + found["cluster"] if found["cluster"] else "")
    )
    return f"forbidden for {user}: cannot {found['verb']} {what}{where}"


def classify(exc: BaseException, exec_errors: list[str] | None = None) -> ClusterError:
    """The `ClusterError` that says why a request to one cluster failed."""
    if isinstance(exc, ClusterError):
        return exc
    if isinstance(exc, ApiException):
        status = exc.status or 0
        message = _status_message(exc)
        if status == 401:
            if exec_errors:
                return ClusterAuthError(f"exec plugin failed: {exec_errors[-1]}")
            return ClusterAuthError(
                "credentials rejected (401 Unauthorized): the token or certificate is expired or invalid"
            )
        if status == 403:
            # "pods is forbidden: User "x" cannot list …": the status already says forbidden.
            reason = message.split(" is forbidden: ", 1)[-1]
            who = caller.acting()
            return ClusterForbiddenError(forbidden_for(who.user, reason) if who and who.user else reason)
        if status in (408, 504):
            return ClusterTimeoutError(f"the API server timed out: {message}")
        if status == 0:
            return _network_reason(exc)
        return ClusterApiError(f"HTTP {status}: {message}", http_status=status)
    if isinstance(exc, ConfigException):
        return ClusterAuthError(f"kubeconfig/credentials error: {exc}")
    if isinstance(exc, (u3.HTTPError, OSError)):
        return _network_reason(exc)
    log.error("unexpected error talking to a cluster (a bug; please report it)", exc_info=exc)
    return ClusterApiError(f"unexpected {type(exc).__name__}: {exc}")


__all__ = ["ApiException", "classify", "forbidden_for"]
