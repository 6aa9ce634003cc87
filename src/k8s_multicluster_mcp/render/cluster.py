"""What each cluster is, for the model: version and size, the API groups and kinds it serves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from pydantic import BaseModel

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.query import cluster
from k8s_multicluster_mcp.query.results import ClusterReport
from k8s_multicluster_mcp.render.base import ClusterOut, provenance, table


class ClusterInfoOut(BaseModel):
    context: str
    server: str | None = None
    version: str | None = None
    platform: str | None = None
    nodes: int | None = None
    nodes_ready: int | None = None
    namespaces: int | None = None


class ClusterInfoOutput(BaseModel):
    clusters: list[ClusterOut]
    items: list[ClusterInfoOut]


def render_cluster_info(
    found: Sequence[cluster.ClusterInfo], reports: Sequence[ClusterReport]
) -> tuple[str, ClusterInfoOutput]:
    now = utcnow()
    items = [ClusterInfoOut(**asdict(i)) for i in found]
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


class ApiGroupOut(BaseModel):
    context: str
    group: str
    versions: list[str]
    kinds: list[str]


class ApisOutput(BaseModel):
    clusters: list[ClusterOut]
    items: list[ApiGroupOut]


def render_apis(
    groups: Sequence[cluster.ApiGroup], reports: Sequence[ClusterReport]
) -> tuple[str, ApisOutput]:
    now = utcnow()
    items = [ApiGroupOut(**asdict(g)) for g in groups]
    output = ApisOutput(clusters=[ClusterOut.of(c, now) for c in reports], items=items)
    lines = provenance(reports, now)
    lines.append(
        table(
            ["CONTEXT", "GROUP", "VERSIONS", "KINDS"],
            [[i.context, i.group, ",".join(i.versions), ",".join(i.kinds)] for i in items],
        )
    )
    return "\n".join(lines), output
