"""The raw list/watch call for a kind, shared by the live source and the watch reflectors.

Both read raw JSON (`_preload_content=False`, decoded with orjson) rather than the client's model
classes: several times faster, and the records are built from the same dicts either way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from k8s_multicluster_mcp.records import Kind

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


def list_call(client: ApiClient, kind: Kind, namespace: str | None = None) -> Callable[..., Any]:
    """The client method that lists (or, with `watch=True`, watches) `kind`, cluster-wide or in
    one namespace; keyword arguments are the API's list options."""
    from kubernetes.client import AppsV1Api, CoreV1Api

    core, apps = CoreV1Api(client), AppsV1Api(client)
    calls: dict[Kind, tuple[Callable[..., Any], Callable[..., Any] | None]] = {
        Kind.POD: (core.list_pod_for_all_namespaces, core.list_namespaced_pod),
        Kind.DEPLOYMENT: (apps.list_deployment_for_all_namespaces, apps.list_namespaced_deployment),
        Kind.NODE: (core.list_node, None),
        Kind.NAMESPACE: (core.list_namespace, None),
        Kind.EVENT: (core.list_event_for_all_namespaces, core.list_namespaced_event),
    }
    cluster_wide, namespaced = calls[kind]
    return functools.partial(namespaced, namespace) if namespace and namespaced else cluster_wide


__all__ = ["list_call"]
