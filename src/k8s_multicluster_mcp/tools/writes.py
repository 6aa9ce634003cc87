"""The original's write tools (toolsets write, scaling, nodes, exec), each on one context, each
with `dry_run`, each with the original's name and parameters. Thin: a tool passes its arguments
to its `writes` operation; `_written` runs it in a worker thread and renders what changed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from mcp_types import CallToolResult
from pydantic import BeforeValidator, Field

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.render.writes import WriteOutput, render_write
from k8s_multicluster_mcp.tools.base import Tools, no_bool, run_blocking
from k8s_multicluster_mcp.tools.core import OneContextArg, answer
from k8s_multicluster_mcp.writes import exec as exec_
from k8s_multicluster_mcp.writes import nodes, objects, workloads
from k8s_multicluster_mcp.writes.writer import ObjectWriter, WriteResult

Result = Annotated[CallToolResult, WriteOutput]
DryRun = Annotated[bool, Field(description="Server-side dry run: show what would change, change nothing.")]
Namespace = Annotated[str | None, Field(description="Namespace (default: the context's, else default).")]
Kind = Annotated[str, Field(description="Kind, e.g. deployment, cm, foos.example.com.")]
Name = Annotated[str, Field(description="Object name.")]
Node = Annotated[str, Field(description="Node name.")]
Manifest = Annotated[str, Field(description="YAML or JSON; several documents allowed.")]
Labels = Annotated[dict[str, str] | None, Field(description="Labels to set.")]
Int = Annotated[int, BeforeValidator(no_bool)]
Workload = Annotated[str, Field(description="deployment, statefulset or daemonset.")]
Values = Annotated[dict[str, str | None], Field(description="Keys to set; null removes a key.")]
Overwrite = Annotated[bool, Field(description="Replace keys that have another value.")]
Effect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
Container = Annotated[str, Field(description="Container name.")]
TaintKey = Annotated[str, Field(description="Taint key.")]

TOOLS = Tools()


def _w(
    name: str, title: str, toolset: str, *, destructive: bool = False, overwrites: bool = False,
    idempotent: bool = True, destructive_if: Callable[[Mapping[str, Any]], bool] | None = None,
) -> Callable[[Any], Any]:  # fmt: skip
    return TOOLS.add(name, title, toolset, writes=True, destructive=destructive, overwrites=overwrites,
                     idempotent=idempotent, destructive_if=destructive_if)  # fmt: skip


async def _written(operation: Callable[..., WriteResult], *args: Any) -> CallToolResult:
    """Run a `writes` operation in a worker thread and render what it changed."""
    result = await run_blocking(operation, *args)
    failed = bool(result.outcomes) and all(o.error for o in result.outcomes)
    return answer(*render_write(result), failed=failed)


@_w("k8s_create_ns", "Create a namespace", "write", idempotent=False)
async def k8s_create_ns(
    w: ObjectWriter, name: Name, context: OneContextArg = None, labels: Labels = None, dry_run: DryRun = False
) -> Result:
    """Create a namespace."""
    return await _written(objects.create_namespace, w, context, name, labels, dry_run)


@_w("k8s_delete_ns", "Delete a namespace", "write", destructive=True)
async def k8s_delete_ns(
    w: ObjectWriter, name: Name, context: OneContextArg = None, dry_run: DryRun = False
) -> Result:
    """Delete a namespace and everything in it (kube-system, kube-public, kube-node-lease and
    default are refused)."""
    return await _written(objects.delete_namespace, w, context, name, dry_run)


@_w("k8s_create_resource", "Create objects", "write", idempotent=False)
async def k8s_create_resource(
    w: ObjectWriter, yaml_content: Manifest, context: OneContextArg = None, namespace: Namespace = None,
    dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Create objects of any kind from a manifest; reports each object."""
    return await _written(objects.create_resources, w, context, yaml_content, namespace, dry_run)


@_w("k8s_apply_resource", "Apply manifests (server-side)", "write", overwrites=True)
async def k8s_apply_resource(
    w: ObjectWriter, yaml_content: Manifest, context: OneContextArg = None, namespace: Namespace = None,
    dry_run: DryRun = False,
    force: Annotated[bool, Field(description="Take fields other managers own.")] = False,
) -> Result:  # fmt: skip
    """Server-side apply (field manager k8s-multicluster-mcp), in order; reports per object
    what changed, or the conflicting fields and their managers."""
    return await _written(objects.apply_resources, w, context, yaml_content, namespace, dry_run, force)


@_w("k8s_delete_resource", "Delete an object", "write", destructive=True)
async def k8s_delete_resource(
    w: ObjectWriter, resource_type: Kind, name: Name, context: OneContextArg = None,
    namespace: Namespace = None, dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Delete one object of any kind."""
    return await _written(objects.delete_resource, w, context, resource_type, name, namespace, dry_run)


@_w("k8s_patch_resource", "Patch an object", "write", overwrites=True)
async def k8s_patch_resource(
    w: ObjectWriter, resource_type: Kind, name: Name,
    patch: Annotated[
        dict[str, Any] | list[Any] | str, Field(description="Patch object, or JSON patch operations.")
    ],
    context: OneContextArg = None, namespace: Namespace = None,
    patch_type: Annotated[
        Literal["strategic", "merge", "json"] | None,
        Field(description="Default: strategic (merge for CRDs)."),
    ] = None,
    dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Patch one object; shows the fields that changed."""
    return await _written(
        objects.patch_resource, w, context, resource_type, name, patch, namespace, patch_type, dry_run
    )


@_w("k8s_label_resource", "Label an object", "write", overwrites=True)
async def k8s_label_resource(
    w: ObjectWriter, resource_type: Kind, name: Name, labels: Values, context: OneContextArg = None,
    namespace: Namespace = None, overwrite: Overwrite = False, dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Set or remove labels of one object (kubectl label)."""
    return await _written(objects.set_metadata, w, context, "k8s_label_resource", "labels", resource_type,
                          name, labels, namespace, overwrite, dry_run)  # fmt: skip


@_w("k8s_annotate_resource", "Annotate an object", "write", overwrites=True)
async def k8s_annotate_resource(
    w: ObjectWriter, resource_type: Kind, name: Name, annotations: Values, context: OneContextArg = None,
    namespace: Namespace = None, overwrite: Overwrite = False, dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Set or remove annotations of one object (kubectl annotate)."""
    return await _written(objects.set_metadata, w, context, "k8s_annotate_resource", "annotations",
                          resource_type, name, annotations, namespace, overwrite, dry_run)  # fmt: skip


@_w("k8s_create_secret_resource", "Create a secret", "write", idempotent=False)
async def k8s_create_secret_resource(
    w: ObjectWriter, name: Name,
    data: Annotated[dict[str, str], Field(description="Keys and plain-text values.")],
    context: OneContextArg = None, namespace: Namespace = None,
    secret_type: str = "Opaque",  # noqa: S107 - a Secret type name, not a password
    labels: Labels = None, dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Create a Secret; the answer shows its keys and value sizes, never the values."""
    return await _written(
        objects.create_secret, w, context, name, namespace, data, secret_type, labels, dry_run
    )


@_w("k8s_create_configmap_resource", "Create a configmap", "write", idempotent=False)
async def k8s_create_configmap_resource(
    w: ObjectWriter, name: Name, data: Annotated[dict[str, str], Field(description="Keys and values.")],
    context: OneContextArg = None, namespace: Namespace = None, labels: Labels = None,
    dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Create a ConfigMap."""
    return await _written(objects.create_configmap, w, context, name, namespace, data, labels, dry_run)


@_w("k8s_expose_resource", "Expose as a service", "write", idempotent=False)
async def k8s_expose_resource(
    w: ObjectWriter, resource_type: Kind, name: Name, port: Int, context: OneContextArg = None,
    namespace: Namespace = None, target_port: Int | None = None,
    protocol: Literal["TCP", "UDP", "SCTP"] | None = None, service_name: str | None = None,
    labels: Labels = None,
    selector: Annotated[str | None, Field(description="key=value,... (default: the workload's).")] = None,
    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] | None = None, dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Create a Service for a workload, pod or service (kubectl expose)."""
    return await _written(objects.expose, w, context, resource_type, name, namespace, port, target_port,
                          protocol, service_name, labels, selector, type, dry_run)  # fmt: skip


@_w("k8s_run_pod", "Run a pod", "write", idempotent=False)
async def k8s_run_pod(
    w: ObjectWriter, name: Name, image: Annotated[str, Field(description="Image, e.g. busybox:1.36.")],
    context: OneContextArg = None, namespace: Namespace = None,
    command: Annotated[list[str] | None, Field(description="argv.")] = None,
    env: Annotated[dict[str, str] | None, Field(description="Environment variables.")] = None,
    labels: Labels = None, restart: Literal["Never", "OnFailure", "Always"] = "Never",
    dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Run a pod with one container (kubectl run)."""
    return await _written(
        objects.run_pod, w, context, name, image, namespace, command, env, labels, restart, dry_run
    )


def _to_zero(arguments: Mapping[str, Any]) -> bool:
    """Scaling to zero stops every pod: destructive (refused under --disable-destructive)."""
    return arguments.get("replicas") == 0


@_w("k8s_scale_resource", "Scale", "scaling", overwrites=True, destructive_if=_to_zero)
async def k8s_scale_resource(
    w: ObjectWriter, resource_type: Kind, name: Name, replicas: Int, context: OneContextArg = None,
    namespace: Namespace = None, dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Set the replicas of a deployment, statefulset, replicaset (any kind with a scale subresource)."""
    return await _written(workloads.scale, w, context, resource_type, name, namespace, replicas, dry_run)


@_w("k8s_autoscale_resource", "Autoscale (HPA)", "scaling", overwrites=True)
async def k8s_autoscale_resource(
    w: ObjectWriter, resource_type: Kind, name: Name, min_replicas: Int, max_replicas: Int,
    context: OneContextArg = None, namespace: Namespace = None, cpu_percent: Int = 80,
    dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Create or update a HorizontalPodAutoscaler (autoscaling/v2, CPU utilization) for a workload."""
    return await _written(workloads.autoscale, w, context, resource_type, name, namespace, min_replicas,
                          max_replicas, cpu_percent, dry_run)  # fmt: skip


@_w("k8s_update_resources", "Set container resources", "scaling", overwrites=True)
async def k8s_update_resources(
    w: ObjectWriter, resource_type: Workload, name: Name, container: Container, context: OneContextArg = None,
    namespace: Namespace = None, memory_request: str | None = None, memory_limit: str | None = None,
    cpu_request: str | None = None, cpu_limit: str | None = None, dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Set CPU/memory requests and limits of one container of a workload (e.g. 250m, 512Mi)."""
    return await _written(workloads.set_resources, w, context, "k8s_update_resources", resource_type, name,
                          namespace, [container], {"cpu": cpu_limit, "memory": memory_limit},
                          {"cpu": cpu_request, "memory": memory_request}, dry_run)  # fmt: skip


@_w("k8s_set_resources_for_container", "Set resources of containers", "scaling", overwrites=True)
async def k8s_set_resources_for_container(
    w: ObjectWriter, resource_type: Workload, resource_name: Name, context: OneContextArg = None,
    namespace: Namespace = None,
    containers: Annotated[list[str] | None, Field(description="Containers; default all.")] = None,
    limits: Annotated[dict[str, str] | None, Field(description="e.g. {cpu: 500m, memory: 1Gi}")] = None,
    requests: Annotated[dict[str, str] | None, Field(description="e.g. {cpu: 100m}")] = None,
    dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Set resource limits and requests of containers in a workload's pod template."""
    return await _written(workloads.set_resources, w, context, "k8s_set_resources_for_container",
                          resource_type, resource_name, namespace, containers, limits, requests,
                          dry_run)  # fmt: skip


@_w("k8s_rollout_undo", "Roll back", "scaling", destructive=True, idempotent=False)
async def k8s_rollout_undo(
    w: ObjectWriter, resource_type: Workload, name: Name, context: OneContextArg = None,
    namespace: Namespace = None,
    to_revision: Annotated[int | None, Field(description="Default: the previous revision.")] = None,
    dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Roll a workload back to an earlier revision (see k8s_rollout_history)."""
    return await _written(
        workloads.rollout_undo, w, context, resource_type, name, namespace, to_revision, dry_run
    )


@_w("k8s_rollout_restart", "Restart a rollout", "scaling", overwrites=True, idempotent=False)
async def k8s_rollout_restart(
    w: ObjectWriter, resource_type: Workload, name: Name, context: OneContextArg = None,
    namespace: Namespace = None, dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Restart a workload's pods with a rolling update (kubectl rollout restart)."""
    return await _written(workloads.rollout_restart, w, context, resource_type, name, namespace, dry_run)


Deployment = Annotated[str, Field(description="deployment.")]


@_w("k8s_rollout_pause", "Pause a rollout", "scaling")
async def k8s_rollout_pause(
    w: ObjectWriter, resource_type: Deployment, name: Name, context: OneContextArg = None,
    namespace: Namespace = None, dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Pause a deployment's rollout."""
    return await _written(workloads.rollout_pause, w, context, resource_type, name, namespace, True, dry_run)


@_w("k8s_rollout_resume", "Resume a rollout", "scaling")
async def k8s_rollout_resume(
    w: ObjectWriter, resource_type: Deployment, name: Name, context: OneContextArg = None,
    namespace: Namespace = None, dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Resume a paused deployment's rollout."""
    return await _written(workloads.rollout_pause, w, context, resource_type, name, namespace, False, dry_run)


@_w("k8s_cordon_node", "Cordon a node", "nodes")
async def k8s_cordon_node(
    w: ObjectWriter, node_name: Node, context: OneContextArg = None, dry_run: DryRun = False
) -> Result:
    """Mark a node unschedulable."""
    return await _written(nodes.cordon, w, context, node_name, True, dry_run)


@_w("k8s_uncordon_node", "Uncordon a node", "nodes")
async def k8s_uncordon_node(
    w: ObjectWriter, node_name: Node, context: OneContextArg = None, dry_run: DryRun = False
) -> Result:
    """Mark a node schedulable again."""
    return await _written(nodes.cordon, w, context, node_name, False, dry_run)


@_w("k8s_drain_node", "Drain a node", "nodes", destructive=True)
async def k8s_drain_node(
    w: ObjectWriter, node_name: Node, context: OneContextArg = None,
    force: Annotated[bool, Field(description="Also evict pods no controller manages.")] = False,
    ignore_daemonsets: Annotated[
        bool, Field(description="Kept for compatibility: DaemonSet pods are always skipped.")
    ] = True,
    delete_local_data: Annotated[bool, Field(description="Also evict pods with emptyDir data.")] = False,
    timeout: Annotated[
        int,
        BeforeValidator(no_bool),
        Field(description="Seconds to retry evictions a PodDisruptionBudget blocks."),
    ] = 60,
    dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Cordon a node and evict its pods through the Eviction API (PodDisruptionBudgets respected);
    skips DaemonSet and mirror pods; reports what was evicted and what was not."""
    return await _written(
        nodes.drain, w, context, node_name, force, delete_local_data, float(timeout), dry_run
    )


@_w("k8s_taint_node", "Taint a node", "nodes", overwrites=True)
async def k8s_taint_node(
    w: ObjectWriter, node_name: Node, key: TaintKey, context: OneContextArg = None,
    value: Annotated[str | None, Field(description="Taint value.")] = None,
    effect: Annotated[Effect, Field(description="What the taint does to pods.")] = "NoSchedule",
    dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Add a taint to a node, or replace the one with the same key and effect."""
    return await _written(nodes.taint, w, context, node_name, key, value, effect, False, dry_run)


@_w("k8s_untaint_node", "Untaint a node", "nodes", overwrites=True)
async def k8s_untaint_node(
    w: ObjectWriter, node_name: Node, key: TaintKey, context: OneContextArg = None,
    effect: Annotated[
        Effect | None, Field(description="Only the taint with this effect (default: any).")
    ] = None,
    dry_run: DryRun = False,
) -> Result:  # fmt: skip
    """Remove a node's taints with this key (and effect)."""
    return await _written(nodes.taint, w, context, node_name, key, None, effect, True, dry_run)


@_w("k8s_pod_exec", "Run a command in a pod", "exec", destructive=True, idempotent=False)
async def k8s_pod_exec(
    w: ObjectWriter, pod_name: Annotated[str, Field(description="Pod name.")],
    command: Annotated[
        list[str] | str,
        Field(description="argv list (a string is split like a shell would, without one)."),
    ],
    context: OneContextArg = None, container: str | None = None, namespace: Namespace = None,
    shell: Annotated[bool, Field(description="Run through /bin/sh -c.")] = False,
    timeout: Annotated[int, BeforeValidator(no_bool), Field(description="Seconds (1-300).")] = 30,
    stdin: Annotated[bool, Field(description="Not supported: must be false.")] = False,
    tty: Annotated[bool, Field(description="Not supported: must be false.")] = False,
) -> Result:  # fmt: skip
    """Run a command in a container; returns its output (at most 64 KB) and exit code."""
    if stdin or tty:
        raise UserError("interactive exec (stdin, tty) is not supported: run a command that needs no input")
    return await _written(
        exec_.pod_exec, w, context, pod_name, command, container, namespace, shell, float(timeout)
    )
