"""Kubernetes naming rules, checked before a name or namespace goes anywhere near a request.

A namespace or name is placed into a URL path: `canary/secrets` as a namespace would turn a pod
list into a Secret read. Everything a caller names is checked here first (the query layer does
it for every tool), with a one-line error that states the rule.
"""

from __future__ import annotations

import re

from k8s_multicluster_mcp.common.errors import InvalidNameError
from k8s_multicluster_mcp.common.text import shown

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_LABEL = re.compile(rf"{_LABEL}\Z")
_DNS_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*\Z")


def check_namespace(namespace: str | None) -> str | None:
    """`namespace` if it is a valid namespace name; None (every namespace) when blank."""
    if namespace is None or not namespace.strip():
        return None
    if len(namespace) > 63 or not _DNS_LABEL.match(namespace):
        raise InvalidNameError(
            f"invalid namespace {shown(namespace)}: a namespace name has at most 63 characters, "
            "lowercase letters, digits and '-', and starts and ends with a letter or digit"
        )
    return namespace


def check_name(name: str, what: str = "object") -> str:
    """`name` if it is a valid object name (a DNS subdomain, as pods, deployments and nodes use)."""
    if not name or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise InvalidNameError(
            f"invalid {what} name {shown(name)}: a name has at most 253 characters, lowercase "
            "letters, digits, '-' and '.', and starts and ends with a letter or digit"
        )
    return name


def check_path_name(name: str, what: str = "object") -> str:
    """`name` if the API could hold it under any kind: RBAC names such as `system:node` are no
    DNS names, so only what can never be a name is refused (empty, `.`/`..`, `/`, `%`, control
    characters, more than 253 characters)."""
    if (
        not name
        or len(name) > 253
        or name in (".", "..")
        or any(c in name for c in "/%")
        or not name.isprintable()
    ):
        raise InvalidNameError(
            f"invalid {what} name {shown(name)}: a name has 1-253 characters and no '/', '%' "
            "or control characters"
        )
    return name


__all__ = ["check_name", "check_namespace", "check_path_name"]
