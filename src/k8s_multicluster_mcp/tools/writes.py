"""The original's write tools (toolsets write, scaling, nodes, exec), each on one context, each
with `dry_run`. Thin: arguments, `operations`, `render_write`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp_types import CallToolResult
from pydantic import BeforeValidator, Field

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.render.objects import WriteOutput, render_write
from k8s_multicluster_mcp.tools.base import ToolSpec, no_bool, run_blocking
from k8s_multicluster_mcp.tools.core import OneContextArg, answer
from k8s_multicluster_mcp.writes import operations as ops

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


def _tool(fn: Callable[..., Any]) -> Callable[..., Awaitable[CallToolResult]]:
    """Run `fn` (an `operations` call returning a WriteResult) in a worker thread and render it."""

    async def call(*args: Any, **kwargs: Any) -> CallToolResult:
        result = await run_blocking(fn, *args, **kwargs)
        failed = bool(result.outcomes) and all(o.error for o in result.outcomes)
        return answer(*render_write(result), failed=failed)

    return call


def _create_ns(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_create_ns(
        name: Name, context: OneContextArg = None, labels: Labels = None, dry_run: DryRun = False
    ) -> Result:
        """Create a namespace."""
        return await _tool(ops.create_namespace)(state.writer, context, name, labels, dry_run)

    return k8s_create_ns


def _delete_ns(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_delete_ns(name: Name, context: OneContextArg = None, dry_run: DryRun = False) -> Result:
        """Delete a namespace and everything in it (kube-system, kube-public, kube-node-lease and
        default are refused)."""
        return await _tool(ops.delete_namespace)(state.writer, context, name, dry_run)

    return k8s_delete_ns


def _create_resource(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_create_resource(
        yaml_content: Manifest,
        context: OneContextArg = None,
        namespace: Namespace = None,
        dry_run: DryRun = False,
    ) -> Result:
        """Create objects of any kind from a manifest; reports each object."""
        return await _tool(ops.create_resources)(state.writer, context, yaml_content, namespace, dry_run)

    return k8s_create_resource


def _apply_resource(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_apply_resource(
        yaml_content: Manifest,
        context: OneContextArg = None,
        namespace: Namespace = None,
        dry_run: DryRun = False,
        force: Annotated[bool, Field(description="Take fields other managers own.")] = False,
    ) -> Result:
        """Server-side apply (field manager k8s-multicluster-mcp), in order; reports per object
        what changed, or the conflicting fields and their managers."""
        return await _tool(ops.apply_resources)(
            state.writer, context, yaml_content, namespace, dry_run, force
        )

    return k8s_apply_resource


def _delete_resource(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_delete_resource(
        resource_type: Kind,
        name: Name,
        context: OneContextArg = None,
        namespace: Namespace = None,
        dry_run: DryRun = False,
    ) -> Result:
        """Delete one object of any kind."""
        return await _tool(ops.delete_resource)(
            state.writer, context, resource_type, name, namespace, dry_run
        )

    return k8s_delete_resource


def _patch_resource(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_patch_resource(
        resource_type: Kind,
        name: Name,
        patch: Annotated[
            dict[str, Any] | list[Any] | str, Field(description="Patch object, or JSON patch operations.")
        ],
        context: OneContextArg = None,
        namespace: Namespace = None,
        patch_type: Annotated[
            Literal["strategic", "merge", "json"] | None,
            Field(description="Default: strategic (merge for CRDs)."),
        ] = None,
        dry_run: DryRun = False,
    ) -> Result:
        """Patch one object; shows the fields that changed."""
        return await _tool(ops.patch_resource)(
            state.writer, context, resource_type, name, patch, namespace, patch_type, dry_run
        )

    return k8s_patch_resource


Values = Annotated[dict[str, str | None], Field(description="Keys to set; null removes a key.")]
Overwrite = Annotated[bool, Field(description="Replace keys that have another value.")]


def _label(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_label_resource(
        resource_type: Kind,
        name: Name,
        labels: Values,
        context: OneContextArg = None,
        namespace: Namespace = None,
        overwrite: Overwrite = False,
        dry_run: DryRun = False,
    ) -> Result:
        """Set or remove labels of one object (kubectl label)."""
        return await _tool(ops.set_metadata)(
            state.writer,
            context,
            "k8s_label_resource",
            "labels",
            resource_type,
            name,
            labels,
            namespace,
            overwrite,
            dry_run,
        )

    return k8s_label_resource


def _annotate(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_annotate_resource(
        resource_type: Kind,
        name: Name,
        annotations: Values,
        context: OneContextArg = None,
        namespace: Namespace = None,
        overwrite: Overwrite = False,
        dry_run: DryRun = False,
    ) -> Result:
        """Set or remove annotations of one object (kubectl annotate)."""
        return await _tool(ops.set_metadata)(
            state.writer,
            context,
            "k8s_annotate_resource",
            "annotations",
            resource_type,
            name,
            annotations,
            namespace,
            overwrite,
            dry_run,
        )

    return k8s_annotate_resource


def _scale(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_scale_resource(
        resource_type: Kind,
        name: Name,
        replicas: Int,
        context: OneContextArg = None,
        namespace: Namespace = None,
        dry_run: DryRun = False,
    ) -> Result:
        """Set the replicas of a deployment, statefulset, replicaset (any kind with a scale subresource)."""
        return await _tool(ops.scale)(
            state.writer, context, resource_type, name, namespace, replicas, dry_run
        )

    return k8s_scale_resource


def _autoscale(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_autoscale_resource(
        resource_type: Kind,
        name: Name,
        min_replicas: Int,
        max_replicas: Int,
        context: OneContextArg = None,
        namespace: Namespace = None,
        cpu_percent: Int = 80,
        dry_run: DryRun = False,
    ) -> Result:
        """Create or update a HorizontalPodAutoscaler (autoscaling/v2, CPU utilization) for a workload."""
        return await _tool(ops.autoscale)(
            state.writer,
            context,
            resource_type,
            name,
            namespace,
            min_replicas,
            max_replicas,
            cpu_percent,
            dry_run,
        )

    return k8s_autoscale_resource


def _update_resources(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_update_resources(
        resource_type: Workload,
        name: Name,
        container: Annotated[str, Field(description="Container name.")],
        context: OneContextArg = None,
        namespace: Namespace = None,
        memory_request: str | None = None,
        memory_limit: str | None = None,
        cpu_request: str | None = None,
        cpu_limit: str | None = None,
        dry_run: DryRun = False,
    ) -> Result:
        """Set CPU/memory requests and limits of one container of a workload (e.g. 250m, 512Mi)."""
        return await _tool(ops.set_resources)(
            state.writer,
            context,
            "k8s_update_resources",
            resource_type,
            name,
            namespace,
            [container],
            {"cpu": cpu_limit, "memory": memory_limit},
            {"cpu": cpu_request, "memory": memory_request},
            dry_run,
        )

    return k8s_update_resources


def _set_resources(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_set_resources_for_container(
        resource_type: Workload,
        resource_name: Name,
        context: OneContextArg = None,
        namespace: Namespace = None,
        containers: Annotated[list[str] | None, Field(description="Containers; default all.")] = None,
        limits: Annotated[dict[str, str] | None, Field(description="e.g. {cpu: 500m, memory: 1Gi}")] = None,
        requests: Annotated[dict[str, str] | None, Field(description="e.g. {cpu: 100m}")] = None,
        dry_run: DryRun = False,
    ) -> Result:
        """Set resource limits and requests of containers in a workload's pod template."""
        return await _tool(ops.set_resources)(
            state.writer,
            context,
            "k8s_set_resources_for_container",
            resource_type,
            resource_name,
            namespace,
            containers,
            limits,
            requests,
            dry_run,
        )

    return k8s_set_resources_for_container


def _rollout_undo(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_rollout_undo(
        resource_type: Workload,
        name: Name,
        context: OneContextArg = None,
        namespace: Namespace = None,
        to_revision: Annotated[int | None, Field(description="Default: the previous revision.")] = None,
        dry_run: DryRun = False,
    ) -> Result:
        """Roll a workload back to an earlier revision (see k8s_rollout_history)."""
        return await _tool(ops.rollout_undo)(
            state.writer, context, resource_type, name, namespace, to_revision, dry_run
        )

    return k8s_rollout_undo


def _rollout_restart(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_rollout_restart(
        resource_type: Workload,
        name: Name,
        context: OneContextArg = None,
        namespace: Namespace = None,
        dry_run: DryRun = False,
    ) -> Result:
        """Restart a workload's pods with a rolling update (kubectl rollout restart)."""
        return await _tool(ops.rollout_restart)(
            state.writer, context, resource_type, name, namespace, dry_run
        )

    return k8s_rollout_restart


def _rollout_pause(paused: bool) -> Callable[[ClusterState], Callable[..., Awaitable[Any]]]:
    tool_name = "k8s_rollout_pause" if paused else "k8s_rollout_resume"

    def make(state: ClusterState) -> Callable[..., Awaitable[Any]]:
        async def tool(
            resource_type: Annotated[str, Field(description="deployment.")],
            name: Name,
            context: OneContextArg = None,
            namespace: Namespace = None,
            dry_run: DryRun = False,
        ) -> Result:
            return await _tool(ops.rollout_pause)(
                state.writer, context, resource_type, name, namespace, paused, dry_run
            )

        tool.__name__ = tool.__qualname__ = tool_name
        tool.__doc__ = "Pause a deployment's rollout." if paused else "Resume a paused deployment's rollout."
        return tool

    return make


def _expose(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_expose_resource(
        resource_type: Kind,
        name: Name,
        port: Int,
        context: OneContextArg = None,
        namespace: Namespace = None,
        target_port: Int | None = None,
        protocol: Literal["TCP", "UDP", "SCTP"] | None = None,
        service_name: str | None = None,
        labels: Labels = None,
        selector: Annotated[str | None, Field(description="key=value,... (default: the workload's).")] = None,
        type: Literal["ClusterIP", "NodePort", "LoadBalancer"] | None = None,
        dry_run: DryRun = False,
    ) -> Result:
        """Create a Service for a workload, pod or service (kubectl expose)."""
        return await _tool(ops.expose)(
            state.writer,
            context,
            resource_type,
            name,
            namespace,
            port,
            target_port,
            protocol,
            service_name,
            labels,
            selector,
            type,
            dry_run,
        )

    return k8s_expose_resource


def _run_pod(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_run_pod(
        name: Name,
        image: Annotated[str, Field(description="Image, e.g. busybox:1.36.")],
        context: OneContextArg = None,
        namespace: Namespace = None,
        command: Annotated[list[str] | None, Field(description="argv.")] = None,
        env: Annotated[dict[str, str] | None, Field(description="Environment variables.")] = None,
        labels: Labels = None,
        restart: Literal["Never", "OnFailure", "Always"] = "Never",
        dry_run: DryRun = False,
    ) -> Result:
        """Run a pod with one container (kubectl run)."""
        return await _tool(ops.run_pod)(
            state.writer, context, name, image, namespace, command, env, labels, restart, dry_run
        )

    return k8s_run_pod


def _cordon(unschedulable: bool) -> Callable[[ClusterState], Callable[..., Awaitable[Any]]]:
    tool_name = "k8s_cordon_node" if unschedulable else "k8s_uncordon_node"

    def make(state: ClusterState) -> Callable[..., Awaitable[Any]]:
        async def tool(node_name: Node, context: OneContextArg = None, dry_run: DryRun = False) -> Result:
            return await _tool(ops.cordon)(state.writer, context, node_name, unschedulable, dry_run)

        tool.__name__ = tool.__qualname__ = tool_name
        tool.__doc__ = "Mark a node unschedulable." if unschedulable else "Mark a node schedulable again."
        return tool

    return make


def _drain(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_drain_node(
        node_name: Node,
        context: OneContextArg = None,
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
    ) -> Result:
        """Cordon a node and evict its pods through the Eviction API (PodDisruptionBudgets respected);
        skips DaemonSet and mirror pods; reports what was evicted and what was not."""
        return await _tool(ops.drain)(
            state.writer, context, node_name, force, delete_local_data, float(timeout), dry_run
        )

    return k8s_drain_node


Effect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


def _taint(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_taint_node(
        node_name: Node,
        key: Annotated[str, Field(description="Taint key.")],
        context: OneContextArg = None,
        value: Annotated[str | None, Field(description="Taint value.")] = None,
        effect: Annotated[Effect, Field(description="What the taint does to pods.")] = "NoSchedule",
        dry_run: DryRun = False,
    ) -> Result:
        """Add a taint to a node, or replace the one with the same key and effect."""
        return await _tool(ops.taint)(state.writer, context, node_name, key, value, effect, False, dry_run)

    return k8s_taint_node


def _untaint(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_untaint_node(
        node_name: Node,
        key: Annotated[str, Field(description="Taint key.")],
        context: OneContextArg = None,
        effect: Annotated[
            Effect | None, Field(description="Only the taint with this effect (default: any).")
        ] = None,
        dry_run: DryRun = False,
    ) -> Result:
        """Remove a node's taints with this key (and effect)."""
        return await _tool(ops.taint)(state.writer, context, node_name, key, None, effect, True, dry_run)

    return k8s_untaint_node


def _exec(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_pod_exec(
        pod_name: Annotated[str, Field(description="Pod name.")],
        command: Annotated[
            list[str] | str,
            Field(description="argv list (a string is split like a shell would, without one)."),
        ],
        context: OneContextArg = None,
        container: str | None = None,
        namespace: Namespace = None,
        shell: Annotated[bool, Field(description="Run through /bin/sh -c.")] = False,
        timeout: Annotated[int, BeforeValidator(no_bool), Field(description="Seconds (1-300).")] = 30,
        stdin: Annotated[bool, Field(description="Not supported: must be false.")] = False,
        tty: Annotated[bool, Field(description="Not supported: must be false.")] = False,
    ) -> Result:
        """Run a command in a container; returns its output (at most 64 KB) and exit code."""
        if stdin or tty:
            raise UserError(
                "interactive exec (stdin, tty) is not supported: run a command that needs no input"
            )
        return await _tool(ops.pod_exec)(
            state.writer, context, pod_name, command, container, namespace, shell, float(timeout)
        )

    return k8s_pod_exec


def _create_secret(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_create_secret_resource(
        name: Name,
        data: Annotated[dict[str, str], Field(description="Keys and plain-text values.")],
        context: OneContextArg = None,
        namespace: Namespace = None,
        secret_type: str = "Opaque",  # noqa: S107 - a Secret type name, not a password
        labels: Labels = None,
        dry_run: DryRun = False,
    ) -> Result:
        """Create a Secret; the answer shows its keys and value sizes, never the values."""
        return await _tool(ops.create_secret)(
            state.writer, context, name, namespace, data, secret_type, labels, dry_run
        )

    return k8s_create_secret_resource


def _create_configmap(state: ClusterState) -> Callable[..., Awaitable[Any]]:
    async def k8s_create_configmap_resource(
        name: Name,
        data: Annotated[dict[str, str], Field(description="Keys and values.")],
        context: OneContextArg = None,
        namespace: Namespace = None,
        labels: Labels = None,
        dry_run: DryRun = False,
    ) -> Result:
        """Create a ConfigMap."""
        return await _tool(ops.create_configmap)(
            state.writer, context, name, namespace, data, labels, dry_run
        )

    return k8s_create_configmap_resource


def _w(
    name: str,
    title: str,
    toolset: str,
    make: Callable[[ClusterState], Callable[..., Awaitable[Any]]],
    *,
    destructive: bool = False,
    overwrites: bool = False,
    idempotent: bool = True,
) -> ToolSpec:
    return ToolSpec(
        name,
        title,
        toolset,
        make,
        writes=True,
        destructive=destructive,
        overwrites=overwrites,
        idempotent=idempotent,
    )


TOOLS = [
    _w("k8s_create_ns", "Create a namespace", "write", _create_ns, idempotent=False),
    _w("k8s_delete_ns", "Delete a namespace", "write", _delete_ns, destructive=True),
    _w("k8s_create_resource", "Create objects", "write", _create_resource, idempotent=False),
    _w("k8s_apply_resource", "Apply manifests (server-side)", "write", _apply_resource, overwrites=True),
    _w("k8s_delete_resource", "Delete an object", "write", _delete_resource, destructive=True),
    _w("k8s_patch_resource", "Patch an object", "write", _patch_resource, overwrites=True),
    _w("k8s_label_resource", "Label an object", "write", _label, overwrites=True),
    _w("k8s_annotate_resource", "Annotate an object", "write", _annotate, overwrites=True),
    _w("k8s_create_secret_resource", "Create a secret", "write", _create_secret, idempotent=False),
    _w("k8s_create_configmap_resource", "Create a configmap", "write", _create_configmap, idempotent=False),
    _w("k8s_expose_resource", "Expose as a service", "write", _expose, idempotent=False),
    _w("k8s_run_pod", "Run a pod", "write", _run_pod, idempotent=False),
    _w("k8s_scale_resource", "Scale", "scaling", _scale, overwrites=True),
    _w("k8s_autoscale_resource", "Autoscale (HPA)", "scaling", _autoscale, overwrites=True),
    _w("k8s_update_resources", "Set container resources", "scaling", _update_resources, overwrites=True),
    _w(
        "k8s_set_resources_for_container",
        "Set resources of containers",
        "scaling",
        _set_resources,
        overwrites=True,
    ),
    _w("k8s_rollout_undo", "Roll back", "scaling", _rollout_undo, destructive=True, idempotent=False),
    _w(
        "k8s_rollout_restart",
        "Restart a rollout",
        "scaling",
        _rollout_restart,
        overwrites=True,
        idempotent=False,
    ),
    _w("k8s_rollout_pause", "Pause a rollout", "scaling", _rollout_pause(True)),
    _w("k8s_rollout_resume", "Resume a rollout", "scaling", _rollout_pause(False)),
    _w("k8s_cordon_node", "Cordon a node", "nodes", _cordon(True)),
    _w("k8s_uncordon_node", "Uncordon a node", "nodes", _cordon(False)),
    _w("k8s_drain_node", "Drain a node", "nodes", _drain, destructive=True),
    _w("k8s_taint_node", "Taint a node", "nodes", _taint, overwrites=True),
    _w("k8s_untaint_node", "Untaint a node", "nodes", _untaint, overwrites=True),
    _w("k8s_pod_exec", "Run a command in a pod", "exec", _exec, destructive=True, idempotent=False),
]
