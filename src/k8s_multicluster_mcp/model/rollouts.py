"""Rollout status and history of Deployments, DaemonSets and StatefulSets, the way kubectl
words them (pure functions of the objects; the tools read the objects through `objects`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.common.text import shown

ROLLOUT_KINDS = {"Deployment": "replicasets.apps", "DaemonSet": "controllerrevisions.apps",
                 "StatefulSet": "controllerrevisions.apps"}  # fmt: skip
"""Kinds with rollouts, and the kind that keeps their revisions."""
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"


def check_rollout_kind(kind: str, asked: str) -> str:
    if kind not in ROLLOUT_KINDS:
        raise UserError(f"{shown(asked)} has no rollouts; use deployment, daemonset or statefulset")
    return kind


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def deployment_status(
    name: str,
    *,
    wanted: int,
    updated: int,
    replicas: int,
    available: int,
    paused: bool = False,
    deadline_exceeded: bool = False,
) -> tuple[bool, str]:
    """(done, message) of a Deployment whose spec the controller has observed, as kubectl says it:
    done only when every wanted replica is updated, no old replica is left (`replicas` is
    status.replicas, which counts surging old pods) and every updated replica is available."""
    if deadline_exceeded:
        return False, f'deployment "{name}" exceeded its progress deadline'
    suffix = " (paused)" if paused else ""
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < wanted:
        return False, f"{prefix}{updated} out of {wanted} new replicas have been updated...{suffix}"
    if replicas > updated:
        return False, f"{prefix}{replicas - updated} old replicas are pending termination...{suffix}"
    if available < updated:
        return False, f"{prefix}{available} of {updated} updated replicas are available...{suffix}"
    return True, f'deployment "{name}" successfully rolled out{suffix}'


def status(kind: str, obj: dict[str, Any]) -> tuple[bool, str]:
    """(done, message) as `kubectl rollout status` prints it, without waiting."""
    meta, spec, st = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    name = meta.get("name", "")
    if _int(meta.get("generation")) > _int(st.get("observedGeneration")):
        return False, f"Waiting for {kind.lower()} spec update to be observed..."
    if kind == "Deployment":
        exceeded = any(
            cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded"
            for cond in st.get("conditions") or ()
        )
        return deployment_status(
            name,
            wanted=_int(spec.get("replicas", 1)),
            updated=_int(st.get("updatedReplicas")),
            replicas=_int(st.get("replicas")),
            available=_int(st.get("availableReplicas")),
            paused=bool(spec.get("paused")),
            deadline_exceeded=exceeded,
        )
    if kind == "DaemonSet":
        if (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
            return True, "rollout status is only available for the RollingUpdate strategy type"
        desired, updated, available = (
            _int(st.get(k)) for k in ("desiredNumberScheduled", "updatedNumberScheduled", "numberAvailable")
        )
        prefix = f'Waiting for daemon set "{name}" rollout to finish: '
        if updated < desired:
            return False, f"{prefix}{updated} out of {desired} new pods have been updated..."
        if available < desired:
            return False, f"{prefix}{available} of {desired} updated pods are available..."
        return True, f'daemon set "{name}" successfully rolled out'
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return True, "rollout status is only available for the RollingUpdate strategy type"
    replicas = spec.get("replicas", 1)
    ready, updated = _int(st.get("readyReplicas")), _int(st.get("updatedReplicas"))
    if ready < replicas:
        return False, f"Waiting for {replicas - ready} pods to be ready..."
    partition = _int((strategy.get("rollingUpdate") or {}).get("partition"))
    if partition:
        if updated < replicas - partition:
            return False, (
                f"Waiting for partitioned roll out to finish: {updated} out of {replicas - partition} "
                "new pods have been updated..."
            )
        return True, f"partitioned roll out complete: {updated} new pods have been updated..."
    if st.get("updateRevision") != st.get("currentRevision"):
        return False, (
            f"waiting for statefulset rolling update to complete {updated} pods at revision "
            f"{st.get('updateRevision')}..."
        )
    complete, revision = st.get("currentReplicas", replicas), st.get("currentRevision")
    return True, f"statefulset rolling update complete {complete} pods at revision {revision}..."


@dataclass(frozen=True)
class Revision:
    revision: int
    name: str
    change_cause: str | None
    images: tuple[str, ...]
    current: bool


def _images(template: dict[str, Any]) -> tuple[str, ...]:
    containers = ((template.get("spec") or {}).get("containers")) or ()
    return tuple(str(c.get("image") or "") for c in containers)


def history(workload: dict[str, Any], owned: Sequence[dict[str, Any]]) -> list[Revision]:
    """The revisions of `workload` kept in `owned` (its ReplicaSets or ControllerRevisions; others
    are ignored), oldest first; `current` marks the one the workload runs."""
    uid = (workload.get("metadata") or {}).get("uid")
    revisions = []
    for obj in owned:
        meta = obj.get("metadata") or {}
        if not any(o.get("uid") == uid for o in meta.get("ownerReferences") or ()):
            continue
        annotations = meta.get("annotations") or {}
        if obj.get("kind") == "ControllerRevision":
            number = _int(obj.get("revision"))
            template = ((obj.get("data") or {}).get("spec") or {}).get("template") or {}
        else:
            try:
                number = int(annotations.get(REVISION, "0"))
            except ValueError:
                number = 0
            template = (obj.get("spec") or {}).get("template") or {}
        revisions.append(
            Revision(
                number, str(meta.get("name") or ""), annotations.get(CHANGE_CAUSE), _images(template), False
            )
        )
    revisions.sort(key=lambda r: r.revision)
    current = _current_revision(workload, revisions)
    return [Revision(r.revision, r.name, r.change_cause, r.images, r.revision == current) for r in revisions]


def _current_revision(workload: dict[str, Any], revisions: Sequence[Revision]) -> int | None:
    annotations = (workload.get("metadata") or {}).get("annotations") or {}
    if REVISION in annotations:
        try:
            return int(annotations[REVISION])
        except ValueError:
            return None
    update = (workload.get("status") or {}).get("updateRevision")
    match = next((r.revision for r in revisions if r.name == update), None)
    return match if match is not None else (revisions[-1].revision if revisions else None)
