"""Rollouts of Deployments, DaemonSets and StatefulSets across clusters: their status as kubectl
words it, and their revisions (a Deployment's ReplicaSets, the others' ControllerRevisions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from k8s_multicluster_mcp.model import rollouts
from k8s_multicluster_mcp.query.objects import ObjectReader, ObjectsResult
from k8s_multicluster_mcp.query.results import ContextSpec


@dataclass(frozen=True)
class Rollout:
    context: str
    namespace: str
    name: str
    kind: str
    done: bool
    message: str


@dataclass(frozen=True)
class Revision:
    context: str
    namespace: str
    name: str
    revision: int
    current: bool
    change_cause: str | None
    images: Sequence[str]
    source: str
    """The ReplicaSet or ControllerRevision that keeps it."""


def _workloads(
    reader: ObjectReader, resource_type: str, name: str, context: ContextSpec, namespace: str | None
) -> ObjectsResult:
    found = reader.get(resource_type, name, context, namespace)
    for f in found.items:
        rollouts.check_rollout_kind(f.type.kind, resource_type)
    return found


def rollout_status(
    reader: ObjectReader, resource_type: str, name: str, context: ContextSpec, namespace: str | None
) -> tuple[ObjectsResult, list[Rollout]]:
    """The rollout of `name` in every selected cluster that has it (without waiting)."""
    found = _workloads(reader, resource_type, name, context, namespace)
    items = []
    for f in found.items:
        done, message = rollouts.status(f.type.kind, f.object)
        meta = f.object.get("metadata") or {}
        items.append(
            Rollout(f.context, meta.get("namespace", ""), meta.get("name", ""), f.type.kind, done, message)
        )
    return found, items


def rollout_history(
    reader: ObjectReader, resource_type: str, name: str, context: ContextSpec, namespace: str | None
) -> tuple[ObjectsResult, list[Revision]]:
    """The revisions of `name` in every selected cluster that has it, oldest first."""
    found = _workloads(reader, resource_type, name, context, namespace)
    items: list[Revision] = []
    for f in found.items:
        meta = f.object.get("metadata") or {}
        match = ((f.object.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in match.items())
        source = rollouts.ROLLOUT_KINDS[f.type.kind]
        owned = reader.get(
            source, None, f.context, meta.get("namespace"), label_selector=selector or None, limit=500
        )
        for r in rollouts.history(f.object, [o.object for o in owned.items]):
            items.append(
                Revision(f.context, meta.get("namespace", ""), meta.get("name", ""), r.revision, r.current,
                         r.change_cause, list(r.images), r.name)
            )  # fmt: skip
    return found, items


__all__ = ["Revision", "Rollout", "rollout_history", "rollout_status"]
