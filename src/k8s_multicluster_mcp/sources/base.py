"""The contract between the query layer and the sources of cluster state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from k8s_multicluster_mcp.errors import ClusterError
from k8s_multicluster_mcp.kubeconfig import ContextInfo
from k8s_multicluster_mcp.records import Kind, Record
from k8s_multicluster_mcp.selectors import LabelSelector

SourceName = Literal["live", "cache"]


@dataclass(frozen=True)
class Snapshot:
    """The objects of one kind in one cluster, as of one moment, and where they came from."""

    context: str
    kind: Kind
    items: tuple[Record, ...]
    as_of: datetime
    source: SourceName
    note: str | None = None
    """A caveat the answer must carry (e.g. the list was cut at its size bound)."""


class ClusterSource(Protocol):
    """Answers "the objects of this kind in these clusters", one result or error per cluster."""

    def fetch(
        self,
        contexts: Sequence[ContextInfo],
        kind: Kind,
        namespace: str | None = None,
        selector: LabelSelector | None = None,
    ) -> dict[str, Snapshot | ClusterError]:
        """Never raises for one cluster's failure; that cluster maps to its `ClusterError`."""
        ...

    def close(self) -> None: ...
