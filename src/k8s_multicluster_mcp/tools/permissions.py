"""What each tool needs from a cluster's RBAC, in kubectl's words (`verb resource[.group]`), so a
client or an operator can see what a toolset requires before granting it: published in every
tool's `_meta` (`PERMISSIONS_META`) and checked per context by `check`.

`KIND` stands for the kind the call names (`k8s_get_resources kind=...`): its verb is what the
tool needs on whatever kind is asked, so it cannot be checked ahead. The fleet tools read the
cached kinds: listed on demand, listed and watched with --watch (`watch` is then needed too).
A tool that only reads the kubeconfig or the server's own cache status needs nothing.
"""

from __future__ import annotations

from k8s_multicluster_mcp.model.permissions import KIND, Need
from k8s_multicluster_mcp.model.permissions import parse as _needs

PERMISSIONS_META = "k8s-multicluster-mcp/rbac"


_CACHED = ("list pods", "watch pods", "list deployments.apps", "watch deployments.apps")
_NODES = ("list nodes", "watch nodes")
_EVENTS = ("list events",)

NEEDS: dict[str, tuple[Need, ...]] = {
    # core
    "k8s_get_contexts": (),
    "k8s_get_namespaces": _needs("list namespaces"),
    "k8s_get_nodes": _needs(*_NODES),
    "k8s_get_resources": _needs(f"list {KIND}"),
    "k8s_get_resource": _needs(f"get {KIND}"),
    "k8s_cache_status": (),
    "k8s_describe": _needs(f"get {KIND}", *_EVENTS),
    "k8s_cluster_info": _needs("get /version", *_NODES, "list namespaces"),
    "k8s_apis": _needs("get /apis"),
    "k8s_crds": _needs("list customresourcedefinitions.apiextensions.k8s.io"),
    # fleet
    "k8s_fleet_failing_pods": _needs("list pods", "watch pods"),
    "k8s_fleet_summary": _needs(*_CACHED, *_NODES),
    "k8s_fleet_unhealthy_deployments": _needs("list deployments.apps", "watch deployments.apps"),
    "k8s_fleet_node_problems": _needs(*_NODES),
    "k8s_fleet_find_pods": _needs("list pods", "watch pods"),
    "k8s_fleet_compare_deployment": _needs("get deployments.apps"),
    "k8s_fleet_recent_changes": _needs(*_CACHED, *_NODES),
    # workloads
    "k8s_rollout_status": _needs(f"get {KIND}", "list replicasets.apps"),
    "k8s_rollout_history": _needs(f"get {KIND}", "list replicasets.apps", "list controllerrevisions.apps"),
    "k8s_get_jobs": _needs("list jobs.batch"),
    "k8s_get_cronjobs": _needs("list cronjobs.batch"),
    # config
    "k8s_get_secret_detail": _needs("get secrets"),
    "k8s_get_configmap_detail": _needs("get configmaps"),
    "k8s_list_secret": _needs("list secrets"),
    "k8s_list_configmap": _needs("list configmaps"),
    # rbac
    "k8s_get_roles": _needs("list roles.rbac.authorization.k8s.io"),
    "k8s_get_clusterroles": _needs("list clusterroles.rbac.authorization.k8s.io"),
    "k8s_get_rolebindings": _needs("list rolebindings.rbac.authorization.k8s.io"),
    "k8s_get_clusterrolebindings": _needs("list clusterrolebindings.rbac.authorization.k8s.io"),
    "k8s_get_service_accounts": _needs("list serviceaccounts"),
    # storage, network
    "k8s_get_pvcs": _needs("list persistentvolumeclaims"),
    "k8s_get_pvs": _needs("list persistentvolumes"),
    "k8s_get_storage_classes": _needs("list storageclasses.storage.k8s.io"),
    "k8s_get_network_policies": _needs("list networkpolicies.networking.k8s.io"),
    # diagnostics
    "k8s_get_events": _needs(*_EVENTS),
    "k8s_get_pod_logs": _needs("get pods", "get pods/log"),
    "k8s_top_nodes": _needs("list nodes.metrics.k8s.io", *_NODES),
    "k8s_top_pods": _needs("list pods.metrics.k8s.io"),
    "k8s_diagnose_application": _needs(f"get {KIND}", "list pods", *_EVENTS, "get pods/log"),
    # write
    "k8s_create_ns": _needs("create namespaces"),
    "k8s_delete_ns": _needs("delete namespaces"),
    "k8s_create_resource": _needs(f"create {KIND}"),
    "k8s_apply_resource": _needs(f"get {KIND}", f"patch {KIND}", f"create {KIND}"),
    "k8s_delete_resource": _needs(f"delete {KIND}"),
    "k8s_patch_resource": _needs(f"patch {KIND}"),
    "k8s_label_resource": _needs(f"patch {KIND}"),
    "k8s_annotate_resource": _needs(f"patch {KIND}"),
    "k8s_create_secret_resource": _needs("create secrets"),
    "k8s_create_configmap_resource": _needs("create configmaps"),
    "k8s_expose_resource": _needs(f"get {KIND}", "create services"),
    "k8s_run_pod": _needs("create pods"),
    # scaling
    "k8s_scale_resource": _needs(f"patch {KIND}/scale"),
    "k8s_autoscale_resource": _needs("create horizontalpodautoscalers.autoscaling"),
    "k8s_update_resources": _needs(f"patch {KIND}"),
    "k8s_set_resources_for_container": _needs(f"patch {KIND}"),
    "k8s_rollout_undo": _needs(
        f"get {KIND}", "list replicasets.apps", "list controllerrevisions.apps", f"patch {KIND}"
    ),
    "k8s_rollout_restart": _needs(f"patch {KIND}"),
    "k8s_rollout_pause": _needs(f"patch {KIND}"),
    "k8s_rollout_resume": _needs(f"patch {KIND}"),
    # nodes
    "k8s_cordon_node": _needs("patch nodes"),
    "k8s_uncordon_node": _needs("patch nodes"),
    "k8s_drain_node": _needs("patch nodes", "list pods", "create pods/eviction"),
    "k8s_taint_node": _needs("patch nodes"),
    "k8s_untaint_node": _needs("patch nodes"),
    # exec
    "k8s_pod_exec": _needs("get pods", "create pods/exec"),
}


def needs(tool: str) -> tuple[Need, ...]:
    """What `tool` needs (KeyError for a tool without an entry: tests keep every tool listed)."""
    return NEEDS[tool]


def meta(tool: str) -> dict[str, list[str]]:
    """The tool's `_meta` entry: its permissions in kubectl's words."""
    return {PERMISSIONS_META: [str(n) for n in needs(tool)]}


__all__ = ["KIND", "NEEDS", "PERMISSIONS_META", "Need", "meta", "needs"]
