"""What each cluster is, for the model: version and size, the API groups and kinds it serves.
The structured items are the query layer's own dataclasses (pydantic serializes them), so their
fields are written once."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.query import cluster
from k8s_multicluster_mcp.query.results import ClusterReport
from k8s_multicluster_mcp.render.base import ClusterOut, provenance, table


class ClusterInfoOutput(BaseModel):
    clusters: list[ClusterOut]
    items: list[cluster.ClusterInfo]


def render_cluster_info(
    found: Sequence[cluster.ClusterInfo], reports: Sequence[ClusterReport]
) -> tuple[str, ClusterInfoOutput]:
    now = utcnow()
    items = list(found)
    output = ClusterInfoOutput(clusters=[ClusterOut.of(c, now) for c in reports], items=items)
    lines = provenance(reports, now)
    lines.append(
        table(
            ["CONTEXT", "VERSION", "NODES READY", "NAMESPACES", "SERVER"],
            [
                [
                    i.context,
                    i.version or "-",
                    f"{i.nodes_ready}/{i.nodes}" if i.nodes is not None else "-",
                    str(i.namespaces) if i.namespaces is not None else "-",
                    i.server or "-",
                ]
                for i in items
            ],
        )
    )
    return "\n".join(lines), output


class ApisOutput(BaseModel):
    clusters: list[ClusterOut]
    items: list[cluster.ApiGroup]


def render_apis(
    groups: Sequence[cluster.ApiGroup], reports: Sequence[ClusterReport]
) -> tuple[str, ApisOutput]:
    now = utcnow()
    items = list(groups)
    output = ApisOutput(clusters=[ClusterOut.of(c, now) for c in reports], items=items)
    lines = provenance(reports, now)
    lines.append(
        table(
            ["CONTEXT", "GROUP", "VERSIONS", "KINDS"],
            [[i.context, i.group, ",".join(i.versions), ",".join(i.kinds)] for i in items],
        )
    )
    return "\n".join(lines), output
