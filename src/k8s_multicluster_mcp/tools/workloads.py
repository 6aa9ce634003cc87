"""The workloads toolset's rollout tools (jobs and cronjobs listings are in `listings`)."""

from __future__ import annotations

from typing import Annotated, Any

from mcp_types import CallToolResult
from pydantic import BaseModel, Field

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.model import rollouts
from k8s_multicluster_mcp.query.objects import ObjectReader, ObjectsResult
from k8s_multicluster_mcp.render.base import ClusterOut, provenance, table
from k8s_multicluster_mcp.tools.base import Tools, run_blocking
from k8s_multicluster_mcp.tools.core import ContextArg, NamespaceArg, answer

TypeArg = Annotated[str, Field(description="deployment, daemonset or statefulset.")]
NameArg = Annotated[str, Field(description="Object name.")]


class RolloutOut(BaseModel):
    context: str
    namespace: str
    name: str
    kind: str
    done: bool
    message: str


class RolloutStatusOutput(BaseModel):
    clusters: list[ClusterOut]
    items: list[RolloutOut]


class RevisionOut(BaseModel):
    context: str
    namespace: str
    name: str
    revision: int
    current: bool
    change_cause: str | None = None
    images: list[str]
    source: str


class RolloutHistoryOutput(BaseModel):
    clusters: list[ClusterOut]
    items: list[RevisionOut]


def _workloads(
    reader: ObjectReader, resource_type: str, name: str, context: Any, namespace: str | None
) -> ObjectsResult:
    found = reader.get(resource_type, name, context, namespace)
    for f in found.items:
        rollouts.check_rollout_kind(f.type.kind, resource_type)
    return found


TOOLS = Tools()


@TOOLS.add("k8s_rollout_status", "Rollout status", "workloads")
async def k8s_rollout_status(
    reader: ObjectReader,
    resource_type: TypeArg,
    name: NameArg,
    context: ContextArg = None,
    namespace: NamespaceArg = None,
) -> Annotated[CallToolResult, RolloutStatusOutput]:
    """Rollout status of a deployment, daemonset or statefulset in every selected cluster that
    has it, as kubectl rollout status words it (without waiting)."""
    found = await run_blocking(_workloads, reader, resource_type, name, context, namespace)
    now = utcnow()
    items = []
    for f in found.items:
        done, message = rollouts.status(f.type.kind, f.object)
        meta = f.object.get("metadata") or {}
        items.append(
            RolloutOut(
                context=f.context, namespace=meta.get("namespace", ""), name=meta.get("name", ""),
                kind=f.type.kind, done=done, message=message,
            )
        )  # fmt: skip
    lines = provenance(found.clusters, now)
    lines.append(
        table(
            ["CONTEXT", "NAMESPACE", "DONE", "STATUS"],
            [[i.context, i.namespace, "yes" if i.done else "no", i.message] for i in items],
        )
    )
    return answer(
        "\n".join(lines),
        RolloutStatusOutput(clusters=[ClusterOut.of(c, now) for c in found.clusters], items=items),
    )


def _history(
    reader: ObjectReader, resource_type: str, name: str, context: Any, namespace: str | None
) -> tuple[ObjectsResult, list[RevisionOut]]:
    found = _workloads(reader, resource_type, name, context, namespace)
    items: list[RevisionOut] = []
    for f in found.items:
        meta = f.object.get("metadata") or {}
        selector = ",".join(
            f"{k}={v}"
            for k, v in (
                ((f.object.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            ).items()
        )
        source = rollouts.ROLLOUT_KINDS[f.type.kind]
        owned = reader.get(
            source, None, f.context, meta.get("namespace"), label_selector=selector or None, limit=500
        )
        for r in rollouts.history(f.object, [o.object for o in owned.items]):
            items.append(
                RevisionOut(
                    context=f.context, namespace=meta.get("namespace", ""), name=meta.get("name", ""),
                    revision=r.revision, current=r.current, change_cause=r.change_cause,
                    images=list(r.images), source=r.name,
                )
            )  # fmt: skip
    return found, items


@TOOLS.add("k8s_rollout_history", "Rollout history", "workloads")
async def k8s_rollout_history(
    reader: ObjectReader,
    resource_type: TypeArg,
    name: NameArg,
    context: ContextArg = None,
    namespace: NamespaceArg = None,
) -> Annotated[CallToolResult, RolloutHistoryOutput]:
    """Revision history of a deployment (its ReplicaSets), daemonset or statefulset (its
    ControllerRevisions): revision, change cause, images, which one is current."""
    found, items = await run_blocking(_history, reader, resource_type, name, context, namespace)
    now = utcnow()
    lines = provenance(found.clusters, now)
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
    return answer(
        "\n".join(lines),
        RolloutHistoryOutput(clusters=[ClusterOut.of(c, now) for c in found.clusters], items=items),
    )
