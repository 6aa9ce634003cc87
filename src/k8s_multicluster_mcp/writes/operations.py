"""The original's write operations, each one `ObjectWriter.run` on one context: what to read, what
to patch or create, and what to refuse (protected namespaces, scale to zero under
--disable-destructive, drain of pods that would lose data)."""

from __future__ import annotations

import ast
import contextlib
import shlex
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from k8s_multicluster_mcp.common import quantities
from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.errors import ClusterApiError, UserError
from k8s_multicluster_mcp.common.names import check_name, check_path_name
from k8s_multicluster_mcp.common.text import one_line, shown
from k8s_multicluster_mcp.kube import api, deadlines
from k8s_multicluster_mcp.kube.contexts import ContextInfo
from k8s_multicluster_mcp.kube.discovery import ResourceType
from k8s_multicluster_mcp.model import rollouts
from k8s_multicluster_mcp.model.records import Raw
from k8s_multicluster_mcp.query.state import ContextSpec
from k8s_multicluster_mcp.writes.writer import (
    PROTECTED_NAMESPACES,
    ObjectWriter,
    Outcome,
    WriteResult,
    check_labels,
    parse_manifests,
    secret_body,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
MIRROR = "kubernetes.io/config.mirror"
EXEC_OUTPUT = 64 * 1024


def _protect(name: str) -> None:
    if name in PROTECTED_NAMESPACES:
        raise UserError(
            f"namespace {name!r} is protected and cannot be deleted ({', '.join(PROTECTED_NAMESPACES)})"
        )


def create_namespace(
    w: ObjectWriter, context: ContextSpec, name: str, labels: Mapping[str, str] | None, dry_run: bool
) -> WriteResult:
    check_name(name, "namespace")
    check_labels(labels or {})
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, **({"labels": dict(labels)} if labels else {})},
    }
    return w.run(
        context,
        "k8s_create_ns",
        lambda c, cl, _: [w.create(cl, w.kind(c, "namespaces"), None, body, dry_run=dry_run)],
        dry_run=dry_run,
    )


def delete_namespace(w: ObjectWriter, context: ContextSpec, name: str, dry_run: bool) -> WriteResult:
    check_name(name, "namespace")
    _protect(name)
    return w.run(
        context,
        "k8s_delete_ns",
        lambda c, cl, _: [w.delete(c, cl, w.kind(c, "namespaces"), None, name, dry_run=dry_run)],
        dry_run=dry_run,
    )


def create_resources(
    w: ObjectWriter, context: ContextSpec, manifest: str, namespace: str | None, dry_run: bool
) -> WriteResult:
    objects = parse_manifests(manifest)

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        outcomes = []
        for obj in objects:
            resource = w.manifest_kind(c, obj)
            meta = obj["metadata"]
            ns = w.namespace_for(c, resource, meta.get("namespace") or namespace)
            if ns:
                meta["namespace"] = ns
            try:
                outcomes.append(w.create(cl, resource, ns, obj, dry_run=dry_run))
            except Exception as exc:
                outcomes.append(_failed(resource, ns, str(meta.get("name") or meta.get("generateName")), exc))
        return outcomes

    return w.run(context, "k8s_create_resource", run, dry_run=dry_run)


def apply_resources(
    w: ObjectWriter, context: ContextSpec, manifest: str, namespace: str | None, dry_run: bool, force: bool
) -> WriteResult:
    objects = parse_manifests(manifest)

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        outcomes = []
        for obj in objects:
            try:
                outcomes.append(w.apply_one(c, cl, obj, namespace, dry_run=dry_run, force=force))
            except UserError:
                raise
            except Exception as exc:
                outcomes.append(
                    _failed(
                        None,
                        obj["metadata"].get("namespace"),
                        str(obj["metadata"].get("name")),
                        exc,
                        obj["kind"],
                    )
                )
        return outcomes

    return w.run(context, "k8s_apply_resource", run, dry_run=dry_run)


def _failed(
    resource: ResourceType | None, namespace: str | None, name: str, exc: Exception, kind: str = ""
) -> Outcome:
    from k8s_multicluster_mcp.kube.apierrors import classify

    return Outcome(
        "failed", resource.qualified if resource else kind, namespace, name, error=classify(exc).message
    )


def delete_resource(
    w: ObjectWriter, context: ContextSpec, word: str, name: str, namespace: str | None, dry_run: bool
) -> WriteResult:
    check_path_name(name)

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, word)
        if resource.group == "" and resource.plural == "namespaces":
            _protect(name)
        return [w.delete(c, cl, resource, w.namespace_for(c, resource, namespace), name, dry_run=dry_run)]

    return w.run(context, "k8s_delete_resource", run, dry_run=dry_run)


def patch_resource(
    w: ObjectWriter,
    context: ContextSpec,
    word: str,
    name: str,
    patch: Any,
    namespace: str | None,
    patch_type: str | None,
    dry_run: bool,
) -> WriteResult:
    check_path_name(name)
    if isinstance(patch, str):
        try:
            patch = orjson.loads(patch)
        except orjson.JSONDecodeError as exc:
            raise UserError(f"patch is not JSON: {exc}") from exc
    kind = patch_type or ("json" if isinstance(patch, list) else "strategic")
    if (kind == "json") != isinstance(patch, list):
        raise UserError("a json patch is a list of operations; strategic and merge patches are objects")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, word)
        return [
            w.patch(
                c,
                cl,
                resource,
                w.namespace_for(c, resource, namespace),
                name,
                patch,
                patch_type=kind,
                dry_run=dry_run,
            )
        ]

    return w.run(context, "k8s_patch_resource", run, dry_run=dry_run)


def set_metadata(
    w: ObjectWriter,
    context: ContextSpec,
    tool: str,
    field: str,
    word: str,
    name: str,
    values: Mapping[str, str | None],
    namespace: str | None,
    overwrite: bool,
    dry_run: bool,
) -> WriteResult:
    """Labels or annotations: kubectl's rules (an existing key keeps its value unless overwrite)."""
    check_path_name(name)
    what = field[:-1]
    check_labels(values, what)
    if not values:
        raise UserError(f"no {field} given")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, word)
        ns = w.namespace_for(c, resource, namespace)
        before = w.existing(c, cl, resource, ns, name)
        current = (before.get("metadata") or {}).get(field) or {}
        clashes = [k for k, v in values.items() if v is not None and k in current and current[k] != v]
        if clashes and not overwrite:
            raise UserError(
                f"{what} {', '.join(map(repr, clashes))} already set to another value on "
                f"{resource.kind} {name!r}; "
                "pass overwrite=true to replace"
            )
        return [
            w.patch(
                c, cl, resource, ns, name, {"metadata": {field: dict(values)}}, dry_run=dry_run, before=before
            )
        ]

    return w.run(context, tool, run, dry_run=dry_run)


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


def expose(
    w: ObjectWriter,
    context: ContextSpec,
    word: str,
    name: str,
    namespace: str | None,
    port: int,
    target_port: int | None,
    protocol: str | None,
    service_name: str | None,
    labels: Mapping[str, str] | None,
    selector: str | None,
    service_type: str | None,
    dry_run: bool,
) -> WriteResult:
    check_path_name(name)
    if not 1 <= port <= 65535 or (target_port is not None and not 1 <= target_port <= 65535):
        raise UserError("ports must be between 1 and 65535")
    chosen = None
    if selector:
        chosen = {}
        for part in selector.split(","):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise UserError(f"selector {shown(selector)}: use key=value pairs separated by commas")
            chosen[key.strip()] = value.strip()
    check_name(service_name or name, "service")
    check_labels(labels or {})

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, word)
        ns = w.namespace_for(c, resource, namespace)
        target = w.existing(c, cl, resource, ns, name)
        spec = target.get("spec") or {}
        found = chosen or (
            (spec.get("selector") or {}).get("matchLabels")
            if resource.kind != "Service"
            else spec.get("selector")
        )
        if resource.kind == "Pod":
            found = chosen or (target.get("metadata") or {}).get("labels")
        if not found:
            raise UserError(f"{resource.kind} {name!r} has no selector to expose; give selector")
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": service_name or name,
                "namespace": ns,
                **({"labels": dict(labels)} if labels else {}),
            },
            "spec": {
                "selector": dict(found),
                "type": service_type or "ClusterIP",
                "ports": [
                    {"port": port, "targetPort": target_port or port, "protocol": (protocol or "TCP").upper()}
                ],
            },
        }
        return [w.create(cl, w.kind(c, "services"), ns, service, dry_run=dry_run)]

    return w.run(context, "k8s_expose_resource", run, dry_run=dry_run)


def run_pod(
    w: ObjectWriter,
    context: ContextSpec,
    name: str,
    image: str,
    namespace: str | None,
    command: Sequence[str] | None,
    env: Mapping[str, str] | None,
    labels: Mapping[str, str] | None,
    restart: str,
    dry_run: bool,
) -> WriteResult:
    check_name(name, "pod")
    check_labels(labels or {})
    if not image.strip():
        raise UserError("image is required, e.g. busybox:1.36")
    container: dict[str, Any] = {"name": name, "image": image}
    if command:
        container["command"] = list(command)
    if env:
        container["env"] = [{"name": k, "value": str(v)} for k, v in env.items()]

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, "pods")
        ns = w.namespace_for(c, resource, namespace)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels or {"run": name})},
            "spec": {"containers": [container], "restartPolicy": restart},
        }
        return [w.create(cl, resource, ns, pod, dry_run=dry_run)]

    return w.run(context, "k8s_run_pod", run, dry_run=dry_run)


def cordon(
    w: ObjectWriter, context: ContextSpec, node: str, unschedulable: bool, dry_run: bool
) -> WriteResult:
    check_name(node, "node")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        body = {"spec": {"unschedulable": True if unschedulable else None}}
        return [w.patch(c, cl, w.kind(c, "nodes"), None, node, body, dry_run=dry_run)]

    return w.run(context, "k8s_cordon_node" if unschedulable else "k8s_uncordon_node", run, dry_run=dry_run)


EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def taint(
    w: ObjectWriter,
    context: ContextSpec,
    node: str,
    key: str,
    value: str | None,
    effect: str | None,
    remove: bool,
    dry_run: bool,
) -> WriteResult:
    """Add (or replace, same key and effect) or remove a node taint; the patch carries the node's
    resourceVersion, so a concurrent change makes it fail instead of losing that change."""
    check_name(node, "node")
    check_labels({key: value}, "taint")
    if effect is not None and effect not in EFFECTS:
        raise UserError(f"effect {shown(effect)} is not one of {', '.join(EFFECTS)}")
    if not remove and effect is None:
        effect = "NoSchedule"

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, "nodes")
        before = w.existing(c, cl, resource, None, node)
        taints = list((before.get("spec") or {}).get("taints") or [])
        keep = [
            t for t in taints if not (t.get("key") == key and (effect is None or t.get("effect") == effect))
        ]
        if remove and len(keep) == len(taints):
            now = ", ".join(f"{t.get('key')}:{t.get('effect')}" for t in taints) or "none"
            raise UserError(
                f"node {node!r} has no taint {key}{':' + effect if effect else ''}; its taints: {now}"
            )
        if not remove:
            keep.append({"key": key, **({"value": value} if value else {}), "effect": effect})
        body = {
            "metadata": {"resourceVersion": (before.get("metadata") or {}).get("resourceVersion")},
            "spec": {"taints": keep or None},
        }
        return [w.patch(c, cl, resource, None, node, body, dry_run=dry_run, before=before)]

    return w.run(context, "k8s_untaint_node" if remove else "k8s_taint_node", run, dry_run=dry_run)


def drain(
    w: ObjectWriter,
    context: ContextSpec,
    node: str,
    force: bool,
    delete_local_data: bool,
    timeout: float,
    dry_run: bool,
) -> WriteResult:
    """Cordon, then evict every pod through the Eviction API (PodDisruptionBudgets respected: a
    429 is retried until `timeout`), skipping DaemonSet and mirror pods; pods with local storage
    (emptyDir) need `delete_local_data`, pods no controller would recreate need `force`."""
    check_name(node, "node")
    if not 1 <= timeout <= 600:
        raise UserError(f"timeout must be between 1 and 600 seconds, got {timeout:g}")

    def run(c: ContextInfo, cl: ApiClient, deadline: deadlines.Deadline) -> list[Outcome]:
        nodes = w.kind(c, "nodes")
        pods = w.kind(c, "pods")
        outcomes = [w.patch(c, cl, nodes, None, node, {"spec": {"unschedulable": True}}, dry_run=dry_run)]
        listed = api.get_json(
            cl, "/api/v1/pods", {"fieldSelector": f"spec.nodeName={node}"}, timeout=w.timeout
        )
        pending: list[Raw] = []
        for pod in listed.get("items") or ():
            meta = pod.get("metadata") or {}
            ns, name = str(meta.get("namespace")), str(meta.get("name"))
            owners = meta.get("ownerReferences") or []
            controller = next((o for o in owners if o.get("controller")), None)
            reason = None
            if MIRROR in (meta.get("annotations") or {}):
                reason = "mirror pod (managed by the kubelet)"
            elif controller and controller.get("kind") == "DaemonSet":
                reason = "DaemonSet pod (its controller ignores cordons)"
            elif (
                any("emptyDir" in v for v in (pod.get("spec") or {}).get("volumes") or ())
                and not delete_local_data
            ):
                reason = (
                    "has local storage (emptyDir); pass delete_local_data=true to evict it and lose that data"
                )
            elif controller is None and not force:
                reason = "no controller would recreate it; pass force=true to evict it anyway"
            if reason:
                outcomes.append(Outcome("skipped", pods.qualified, ns, name, detail=reason))
            else:
                pending.append(pod)
        stop = time.monotonic() + timeout
        while pending:
            waiting: list[tuple[Raw, str]] = []
            for pod in pending:
                meta = pod["metadata"]
                ns, name = meta["namespace"], meta["name"]
                body = {
                    "apiVersion": "policy/v1",
                    "kind": "Eviction",
                    "metadata": {"name": name, "namespace": ns},
                }
                try:
                    api.call_json(
                        cl,
                        "POST",
                        pods.path(ns, name) + "/eviction",
                        {"dryRun": "All" if dry_run else None},
                        body=body,
                        timeout=w.timeout,
                    )
                    outcomes.append(Outcome("evicted", pods.qualified, ns, name))
                except Exception as exc:
                    status = getattr(exc, "status", None)
                    if status == 404:
                        outcomes.append(Outcome("gone", pods.qualified, ns, name))
                    elif status == 429:
                        waiting.append((pod, _status_message(exc)))
                    else:
                        raise
            if not waiting:
                break
            if time.monotonic() >= stop or deadline.expired:
                for pod, why in waiting:
                    meta = pod["metadata"]
                    outcomes.append(
                        Outcome(
                            "not evicted",
                            pods.qualified,
                            meta["namespace"],
                            meta["name"],
                            error=f"{why} (retried for {timeout:g}s)",
                        )
                    )
                break
            pending = [p for p, _ in waiting]
            time.sleep(min(1.0, max(0.0, stop - time.monotonic())))
        return outcomes

    return w.run(context, "k8s_drain_node", run, dry_run=dry_run, budget=timeout + w.timeout * 3)


_STDOUT, _STDERR, _STATUS = 1, 2, 3
"""The exec websocket's channels (the status channel carries the v1 Status of the command)."""


def exit_code(status: str) -> int | str:
    """The exit code in the Status an exec ends with, or the runtime's message when the command
    could not run (a missing binary, no /bin/sh): the official client's `returncode` assumes a
    number there and fails with ValueError on real kubelets."""
    if not status.strip():
        return "the connection closed without an exit status"
    try:
        body = orjson.loads(status)
    except orjson.JSONDecodeError:
        return one_line(status)
    if not isinstance(body, dict):
        return one_line(status)
    if body.get("status") == "Success":
        return 0
    causes = (body.get("details") or {}).get("causes") or []
    for cause in causes:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            with contextlib.suppress(TypeError, ValueError):
                return int(str(cause.get("message")))
    return one_line(str(body.get("message") or body.get("reason") or status))


def _running_container(obj: Raw, namespace: str | None, pod: str, container: str | None) -> str:
    """The container to exec into (the only or the default one when not named), which must exist
    and be running: said in one line, before any websocket is opened."""
    spec = obj.get("spec") or {}
    names = [str(c.get("name")) for c in spec.get("containers") or () if isinstance(c, Mapping)]
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    default = annotations.get("kubectl.kubernetes.io/default-container")
    target = container or (default if default in names else None) or (names[0] if len(names) == 1 else None)
    if target is None:
        raise UserError(f"pod {namespace}/{pod} has several containers; name one: {', '.join(names)}")
    if target not in names:
        raise UserError(
            f"pod {namespace}/{pod} has no container {shown(target)}; its containers: {', '.join(names)}"
        )
    statuses = (obj.get("status") or {}).get("containerStatuses") or ()
    found = next((s for s in statuses if isinstance(s, Mapping) and s.get("name") == target), {})
    state = found.get("state") or {}
    if "running" not in state:
        kind, detail = next(iter(state.items()), (None, {}))
        why = (detail or {}).get("reason") if isinstance(detail, Mapping) else None
        now = f"{kind}: {why}" if kind and why else (kind or "no status from a kubelet yet")
        raise ClusterApiError(
            f"container {target} of pod {namespace}/{pod} is not running ({now}); "
            "exec needs a running container"
        )
    return target


def _status_message(exc: BaseException) -> str:
    from k8s_multicluster_mcp.kube.apierrors import classify

    return classify(exc).message.removeprefix("HTTP 429: ")


def _handshake(exc: BaseException) -> str:
    """Why an exec websocket was refused, in one line: the API server's Status message, which the
    client keeps at the end of its reason ('Handshake status 400 ... -+-+- {headers} -+-+-
    b'{status json}''), or else the first line of that reason."""
    reason = str(getattr(exc, "reason", None) or exc)
    body = reason.rsplit("-+-+-", 1)[-1].strip()
    if body[:2] in ("b'", 'b"'):
        with contextlib.suppress(ValueError, SyntaxError):
            body = ast.literal_eval(body).decode("utf-8", "replace")
    try:
        message = orjson.loads(body).get("message")
    except (orjson.JSONDecodeError, AttributeError):
        message = None
    return one_line(str(message or (reason.splitlines()[0] if reason else type(exc).__name__)))


def create_secret(
    w: ObjectWriter,
    context: ContextSpec,
    name: str,
    namespace: str | None,
    data: Mapping[str, str],
    secret_type: str,
    labels: Mapping[str, str] | None,
    dry_run: bool,
) -> WriteResult:
    """A Secret from `data`; the answer shows its keys and value sizes, never the values."""
    check_name(name, "secret")
    check_labels(labels or {})
    if not data:
        raise UserError("data is empty: give at least one key")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, "secrets")
        ns = str(w.namespace_for(c, resource, namespace))
        return [w.create(cl, resource, ns, secret_body(name, ns, data, secret_type, labels), dry_run=dry_run)]

    return w.run(context, "k8s_create_secret_resource", run, dry_run=dry_run)


def create_configmap(
    w: ObjectWriter,
    context: ContextSpec,
    name: str,
    namespace: str | None,
    data: Mapping[str, str],
    labels: Mapping[str, str] | None,
    dry_run: bool,
) -> WriteResult:
    check_name(name, "configmap")
    check_labels(labels or {})

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> list[Outcome]:
        resource = w.kind(c, "configmaps")
        ns = w.namespace_for(c, resource, namespace)
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, **({"labels": dict(labels)} if labels else {})},
            "data": {k: str(v) for k, v in data.items()},
        }
        return [w.create(cl, resource, ns, body, dry_run=dry_run)]

    return w.run(context, "k8s_create_configmap_resource", run, dry_run=dry_run)


def pod_exec(
    w: ObjectWriter,
    context: ContextSpec,
    pod: str,
    command: str | Sequence[str],
    container: str | None,
    namespace: str | None,
    shell: bool,
    timeout: float,
) -> WriteResult:
    """Run a command in a container: an argv list (no shell unless `shell`), at most `timeout`
    seconds and `EXEC_OUTPUT` bytes of output."""
    check_name(pod, "pod")
    if container is not None:
        check_name(container, "container")
    if not 1 <= timeout <= 300:
        raise UserError(f"timeout must be between 1 and 300 seconds, got {timeout:g}")
    if isinstance(command, str):
        argv = ["/bin/sh", "-c", command] if shell else shlex.split(command)
    else:
        argv = ["/bin/sh", "-c", shlex.join(command)] if shell else list(command)
    if not argv:
        raise UserError("command is empty")

    def run(c: ContextInfo, cl: ApiClient, _: deadlines.Deadline) -> tuple[list[Outcome], str]:
        ns = str(w.namespace_for(c, w.kind(c, "pods"), namespace))
        target = _running_container(w.existing(c, cl, w.kind(c, "pods"), ns, pod), ns, pod, container)
        try:
            session = api.exec_session(cl, ns, pod, target, argv, timeout=w.timeout)
        except Exception as exc:
            raise ClusterApiError(
                f"the cluster cannot run commands in pod {ns}/{pod}: {_handshake(exc)}"
            ) from exc
        output: list[str] = []
        status: list[str] = []
        size = 0
        stop = time.monotonic() + timeout
        try:
            # read_stdout() without a timeout blocks until a frame comes, so a silent command would
            # outlive `timeout`: poll with a bounded wait and read what arrived without waiting.
            while session.is_open() and size < EXEC_OUTPUT:
                left = stop - time.monotonic()
                if left <= 0:
                    break
                session.update(timeout=min(1.0, left))
                for channel in (_STDOUT, _STDERR, _STATUS):
                    chunk = session.read_channel(channel, timeout=0)
                    if chunk and channel == _STATUS:
                        status.append(chunk)
                    elif chunk:
                        output.append(chunk)
                        size += len(chunk)
            finished = not session.is_open()
            status.append(session.read_channel(_STATUS, timeout=0) if finished else "")
        finally:
            session.close(timeout=1)
        text = "".join(output)[:EXEC_OUTPUT]
        if not finished:
            verb = "cut" if size >= EXEC_OUTPUT else "timed out"
            detail = f"stopped after {timeout:g}s or {EXEC_OUTPUT} bytes"
            return [Outcome(verb, "pods", ns, pod, detail=detail)], text
        code = exit_code("".join(status))
        if isinstance(code, str):
            raise ClusterApiError(f"the command could not run in {ns}/{pod} ({target}): {code}")
        return [Outcome("exited", "pods", ns, pod, detail=f"exit code {code}")], text

    return w.run(context, "k8s_pod_exec", run, dry_run=False, budget=timeout + w.timeout * 2)
