"""The kinds the query layer serves (and, with --watch, caches), and the words a user or a model
may name them by."""

from __future__ import annotations

from enum import Enum

from k8s_multicluster_mcp.common.errors import UnknownKindError
from k8s_multicluster_mcp.common.text import shown


class Kind(str, Enum):
    """The kinds the query layer serves (and, in --watch mode, caches)."""

    POD = "pods"
    DEPLOYMENT = "deployments"
    NODE = "nodes"
    NAMESPACE = "namespaces"
    EVENT = "events"
    """Read by the recent-changes question in on-demand mode; not a kind of the list tools yet."""

    @property
    def namespaced(self) -> bool:
        return self in (Kind.POD, Kind.DEPLOYMENT, Kind.EVENT)

    @property
    def singular(self) -> str:
        return self.value[:-1].capitalize()


_KIND_ALIASES: dict[str, Kind] = {
    alias: kind
    for kind, aliases in {
        Kind.POD: ("pod", "pods", "po"),
        Kind.DEPLOYMENT: ("deployment", "deployments", "deploy", "deployment.apps", "deployments.apps"),
        Kind.NODE: ("node", "nodes", "no"),
        Kind.NAMESPACE: ("namespace", "namespaces", "ns"),
    }.items()
    for alias in aliases
}


def parse_kind(value: str) -> Kind:
    """A Kind from what a user or model typed (`Pod`, `pods`, `po`, `deploy`, …)."""
    kind = _KIND_ALIASES.get(value.strip().lower())
    if kind is None:
        raise UnknownKindError(
            f"unknown or unsupported kind {shown(value)}; this tool serves: pods (po), deployments "
            "(deploy), nodes (no), namespaces (ns)"
        )
    return kind
