"""Rollout status and history, for the model: kubectl's words per cluster, and revisions with
their change cause and images."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.query.results import ClusterReport
from k8s_multicluster_mcp.query.workloads import Revision, Rollout
from k8s_multicluster_mcp.render.base import ClusterOut, provenance, table


class RolloutStatusOutput(BaseModel):
    clusters: list[ClusterOut]
    items: list[Rollout]


class RolloutHistoryOutput(BaseModel):
    clusters: list[ClusterOut]
    items: list[Revision]


def render_rollout_status(
    clusters: Sequence[ClusterReport], rollouts: Sequence[Rollout]
) -> tuple[str, RolloutStatusOutput]:
    now = utcnow()
    items = list(rollouts)
    lines = provenance(clusters, now)
    lines.append(
        table(
            ["CONTEXT", "NAMESPACE", "DONE", "STATUS"],
            [[i.context, i.namespace, "yes" if i.done else "no", i.message] for i in items],
        )
    )
    return "\n".join(lines), RolloutStatusOutput(
        clusters=[ClusterOut.of(c, now) for c in clusters], items=items
    )


def render_rollout_history(
    clusters: Sequence[ClusterReport], revisions: Sequence[Revision]
) -> tuple[str, RolloutHistoryOutput]:
    now = utcnow()
    items = list(revisions)
    lines = provenance(clusters, now)
    if items:
        lines.append(
            table(
                ["CONTEXT", "NAMESPACE", "NAME", "REVISION", "CHANGE-CAUSE", "IMAGES", "FROM"],
                [
                    [i.context, i.namespace, i.name, f"{i.revision}{' (current)' if i.current else ''}",
                     i.change_cause or "<none>", ",".join(i.images), i.source]
                    for i in items
                ],
            )
        )  # fmt: skip
    else:
        lines.append("No revisions recorded.")
    output = RolloutHistoryOutput(clusters=[ClusterOut.of(c, now) for c in clusters], items=items)
    return "\n".join(lines), output
