"""The scaling toolset's operations on workloads: scale (scale to zero refused under
--disable-destructive), autoscale, container resources, rollout restart, pause, resume, undo."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from k8s_multicluster_mcp.common import quantities
from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.common.names import check_path_name
from k8s_multicluster_mcp.common.text import shown
from k8s_multicluster_mcp.kube import api, deadlines
from k8s_multicluster_mcp.kube.discovery import ResourceType
from k8s_multicluster_mcp.model import rollouts
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.query.results import ContextSpec
from k8s_multicluster_mcp.writes.writer import (
    ObjectWriter,
    Outcome,
    WriteResult,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def scale(
    w: ObjectWriter,
    context: ContextSpec,
    word: str,
    name: str,
    namespace: str | None,
    replicas: int,
    dry_run: bool,
) -> WriteResult:
    check_path_name(name)
    if replicas < 0:
        raise UserError(f"replicas must be 0 or more, got {replicas}")
    if replicas == 0 and w.disable_destructive:
        raise UserError("scaling to zero is refused: the server runs with --disable-destructive")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, word)
        ns = w.namespace_for(c, resource, namespace)
        return [
            w.patch(
                c, cl, resource, ns, name, {"spec": {"replicas": replicas}}, dry_run=dry_run, sub="/scale"
            )
        ]

    return w.run(context, "k8s_scale_resource", run, dry_run=dry_run)


def autoscale(
    w: ObjectWriter,
    context: ContextSpec,
    word: str,
    name: str,
    namespace: str | None,
    min_replicas: int,
    max_replicas: int,
    cpu_percent: int,
    dry_run: bool,
) -> WriteResult:
    check_path_name(name)
    if not 1 <= min_replicas <= max_replicas:
        raise UserError(f"need 1 <= min_replicas <= max_replicas, got {min_replicas} and {max_replicas}")
    if not 1 <= cpu_percent <= 1000:
        raise UserError(f"cpu_percent must be between 1 and 1000, got {cpu_percent}")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        target = w.kind(c, word)
        ns = w.namespace_for(c, target, namespace)
        w.existing(c, cl, target, ns, name)
        hpa = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "scaleTargetRef": {"apiVersion": target.api_version, "kind": target.kind, "name": name},
                "minReplicas": min_replicas,
                "maxReplicas": max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": cpu_percent},
                        },
                    }
                ],
            },
        }
        return [w.apply_one(c, cl, hpa, ns, dry_run=dry_run, force=False)]

    return w.run(context, "k8s_autoscale_resource", run, dry_run=dry_run)


def _check_quantities(values: Mapping[str, Any], what: str) -> dict[str, str]:
    out = {}
    for key, value in values.items():
        if value is None:
            continue
        if quantities.parse(value) is None:
            raise UserError(f"{what} {key}: {shown(value)} is not a quantity (e.g. 250m, 1, 512Mi, 2Gi)")
        out[key] = str(value)
    return out


def set_resources(
    w: ObjectWriter,
    context: ContextSpec,
    tool: str,
    word: str,
    name: str,
    namespace: str | None,
    containers: Sequence[str] | None,
    limits: Mapping[str, Any] | None,
    requests: Mapping[str, Any] | None,
    dry_run: bool,
) -> WriteResult:
    """Requests and limits of containers in a workload's pod template (all containers if none named)."""
    check_path_name(name)
    wanted = {
        "limits": _check_quantities(limits or {}, "limit"),
        "requests": _check_quantities(requests or {}, "request"),
    }
    wanted = {k: v for k, v in wanted.items() if v}
    if not wanted:
        raise UserError("give at least one limit or request (cpu, memory, ...)")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, word)
        ns = w.namespace_for(c, resource, namespace)
        before = w.existing(c, cl, resource, ns, name)
        spec = ((before.get("spec") or {}).get("template") or {}).get("spec")
        if not isinstance(spec, dict):
            raise UserError(
                f"{resource.kind} has no pod template; set resources on a deployment, statefulset, "
                "daemonset, ..."
            )
        present = [str(x.get("name")) for x in spec.get("containers") or ()]
        names = list(containers or present)
        unknown = [n for n in names if n not in present]
        if unknown:
            raise UserError(
                f"no container {', '.join(map(repr, unknown))} in {resource.kind} {name!r}; "
                f"it has: {', '.join(present)}"
            )
        body = {
            "spec": {"template": {"spec": {"containers": [{"name": n, "resources": wanted} for n in names]}}}
        }
        return [
            w.patch(c, cl, resource, ns, name, body, patch_type="strategic", dry_run=dry_run, before=before)
        ]

    return w.run(context, tool, run, dry_run=dry_run)


def _rollout_kind(
    w: ObjectWriter, c: ContextInfo, word: str, allowed: Sequence[str] = tuple(rollouts.ROLLOUT_KINDS)
) -> ResourceType:
    resource = w.kind(c, word)
    if resource.kind not in allowed:
        raise UserError(f"{shown(word)}: this works on {', '.join(a.lower() for a in allowed)} only")
    return resource


def rollout_restart(
    w: ObjectWriter, context: ContextSpec, word: str, name: str, namespace: str | None, dry_run: bool
) -> WriteResult:
    check_path_name(name)
    now = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = _rollout_kind(w, c, word)
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
        return [
            w.patch(c, cl, resource, w.namespace_for(c, resource, namespace), name, body, dry_run=dry_run)
        ]

    return w.run(context, "k8s_rollout_restart", run, dry_run=dry_run)


def rollout_pause(
    w: ObjectWriter,
    context: ContextSpec,
    word: str,
    name: str,
    namespace: str | None,
    paused: bool,
    dry_run: bool,
) -> WriteResult:
    check_path_name(name)

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = _rollout_kind(w, c, word, ("Deployment",))
        body = {"spec": {"paused": True if paused else None}}
        return [
            w.patch(c, cl, resource, w.namespace_for(c, resource, namespace), name, body, dry_run=dry_run)
        ]

    return w.run(context, "k8s_rollout_pause" if paused else "k8s_rollout_resume", run, dry_run=dry_run)


def rollout_undo(
    w: ObjectWriter,
    context: ContextSpec,
    word: str,
    name: str,
    namespace: str | None,
    to_revision: int | None,
    dry_run: bool,
) -> WriteResult:
    """Back to `to_revision` (default: the previous one), from the revisions the cluster keeps
    (a Deployment's ReplicaSets, a DaemonSet's or StatefulSet's ControllerRevisions)."""
    check_path_name(name)

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = _rollout_kind(w, c, word)
        ns = w.namespace_for(c, resource, namespace)
        workload = w.existing(c, cl, resource, ns, name)
        source = w.kind(c, rollouts.ROLLOUT_KINDS[resource.kind])
        labels = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        listed = api.get_json(
            cl,
            source.path(ns),
            {"labelSelector": ",".join(f"{k}={v}" for k, v in labels.items()) or None},
            timeout=w.timeout,
        )
        owned = [{"kind": source.kind, **o} for o in listed.get("items") or ()]
        history = rollouts.history(dict(workload), owned)
        current = next((r.revision for r in history if r.current), None)
        if to_revision:
            target = next((r for r in history if r.revision == to_revision), None)
        else:
            target = next((r for r in reversed(history) if r.revision != current), None)
        if target is None:
            kept = ", ".join(str(r.revision) for r in history) or "none"
            raise UserError(
                f"no revision {to_revision or 'before the current one'} of {resource.kind} {name!r}; "
                f"revisions kept: {kept}"
            )
        if target.revision == current:
            return [
                Outcome("unchanged", resource.qualified, ns, name, detail=f"already at revision {current}")
            ]
        raw = next(o for o in owned if (o.get("metadata") or {}).get("name") == target.name)
        if resource.kind == "Deployment":
            template = dict((raw.get("spec") or {}).get("template") or {})
            meta = dict(template.get("metadata") or {})
            meta["labels"] = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
            template["metadata"] = meta
            body: Any = [{"op": "replace", "path": "/spec/template", "value": template}]
            patch_type = "json"
        else:
            body, patch_type = raw.get("data") or {}, "strategic"
        outcome = w.patch(
            c, cl, resource, ns, name, body, patch_type=patch_type, dry_run=dry_run, before=workload
        )
        return [
            Outcome(
                outcome.verb,
                outcome.kind,
                ns,
                name,
                outcome.changes,
                detail=f"rolled back to revision {target.revision}",
            )
        ]

    return w.run(context, "k8s_rollout_undo", run, dry_run=dry_run)
