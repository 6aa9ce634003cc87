"""Seed real API servers with nodes, deployments and pods, and write their status like a kubelet.

There is no kubelet or controller manager in the local control plane, so status is written
through the status subresource, the way the kubelet (pods, nodes) and the deployment controller
(deployments) would write it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api


def _ts(seconds_ago: float = 0) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_namespace(api: ApiClient, name: str) -> None:
    CoreV1Api(api).create_namespace({"metadata": {"name": name}})


def delete_namespace(api: ApiClient, name: str) -> None:
    CoreV1Api(api).delete_namespace(name, _request_timeout=10)


def create_node(
    api: ApiClient, name: str, *, ready: bool = True, labels: dict[str, str] | None = None
) -> None:
    core = CoreV1Api(api)
    core.create_node({"metadata": {"name": name, "labels": labels or {}}})
    core.patch_node_status(
        name,
        {
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if ready else "False",
                        "reason": "KubeletReady" if ready else "KubeletNotReady",
                        "message": "kubelet is posting ready status" if ready else "container runtime is down",
                        "lastHeartbeatTime": _ts(),
                        "lastTransitionTime": _ts(60),
                    }
                ],
                "nodeInfo": {
                    "kubeletVersion": "v1.37.2", "architecture": "amd64", "bootID": "", "containerRuntimeVersion": "",
                    "kernelVersion": "", "kubeProxyVersion": "", "machineID": "", "operatingSystem": "linux",
                    "osImage": "", "systemUUID": "",
                },
                "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}],
                "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "4", "memory": "15Gi", "pods": "110"},
            }
        },
    )  # fmt: skip


def create_deployment(
    api: ApiClient,
    namespace: str,
    name: str,
    *,
    image: str = "nginx:1.27",
    replicas: int = 2,
    ready: int | None = None,
    labels: dict[str, str] | None = None,
) -> None:
    labels = labels or {"app": name}
    apps = AppsV1Api(api)
    apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {"name": name, "image": image, "resources": {"limits": {"memory": "128Mi"}}}
                        ]
                    },
                },
            },
        },
    )
    ready = replicas if ready is None else ready
    apps.patch_namespaced_deployment_status(
        name,
        namespace,
        {
            "status": {
                "observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": ready, "availableReplicas": ready, "unavailableReplicas": replicas - ready,
            }
        },
    )  # fmt: skip


def create_pod(
    api: ApiClient,
    namespace: str,
    name: str,
    *,
    image: str = "nginx:1.27",
    labels: dict[str, str] | None = None,
    node: str | None = None,
    init_image: str | None = None,
    owner: tuple[str, str] | None = None,
) -> None:
    metadata: dict[str, Any] = {"name": name, "labels": labels or {}}
    if owner is not None:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": owner[0],
                "name": owner[1],
                "uid": "00000000-0000-0000-0000-000000000001",
                "controller": True,
            }
        ]
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": image}]}
    if node:
        spec["nodeName"] = node
    else:
        # On a backend with a scheduler and kubelets (kind), a gated pod is never scheduled or run,
        # so the status a test writes is not overwritten by a real kubelet.
        spec["schedulingGates"] = [{"name": "k8s-multicluster-mcp.test/seeded"}]
    if init_image:
        spec["initContainers"] = [{"name": "init", "image": init_image}]
    CoreV1Api(api).create_namespaced_pod(namespace, {"metadata": metadata, "spec": spec})


def _container(image: str, state: dict[str, Any], *, ready: bool = False, restarts: int = 0,
               last: dict[str, Any] | None = None, name: str = "app") -> dict[str, Any]:  # fmt: skip
    status = {
        "name": name,
        "image": image,
        "imageID": "",
        "ready": ready,
        "restartCount": restarts,
        "state": state,
    }
    if last:
        status["lastState"] = last
    return status


def pod_status(preset: str, image: str = "nginx:1.27", restarts: int = 5) -> dict[str, Any]:
    """A pod status as the kubelet (or scheduler, or eviction manager) would write it."""
    running = {"running": {"startedAt": _ts(300)}}
    crashed = {"terminated": {"reason": "Error", "exitCode": 1, "startedAt": _ts(60), "finishedAt": _ts(30)}}
    ready = [{"type": "Ready", "status": "True", "lastTransitionTime": _ts(300)}]
    not_ready = [
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": _ts(60)}
    ]
    presets: dict[str, dict[str, Any]] = {
        "running": {"phase": "Running", "conditions": ready, "containerStatuses": [_container(image, running, ready=True)]},
        "not_ready": {"phase": "Running", "conditions": not_ready, "containerStatuses": [_container(image, running)]},
        "crashloop": {
            "phase": "Running", "conditions": not_ready,
            "containerStatuses": [_container(
                image, {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}},
                restarts=restarts, last=crashed)],
        },
        "image_pull_backoff": {
            "phase": "Pending", "conditions": not_ready,
            "containerStatuses": [_container(image, {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}})],
        },
        "err_image_pull": {
            "phase": "Pending", "conditions": not_ready,
            "containerStatuses": [_container(image, {"waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}})],
        },
        "create_container_config_error": {
            "phase": "Pending", "conditions": not_ready,
            "containerStatuses": [_container(image, {"waiting": {"reason": "CreateContainerConfigError", "message": 'secret "db" not found'}})],
        },
        "oom_killed": {
            "phase": "Running", "conditions": not_ready,
            "containerStatuses": [_container(
                image, {"terminated": {"reason": "OOMKilled", "exitCode": 137, "startedAt": _ts(20), "finishedAt": _ts(5)}})],
        },
        "error": {
            "phase": "Failed",
            "containerStatuses": [_container(image, {"terminated": {"reason": "Error", "exitCode": 2, "startedAt": _ts(20), "finishedAt": _ts(5)}})],
        },
        "evicted": {"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."},
        "unschedulable": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                            "message": "0/3 nodes are available: 3 Insufficient cpu.", "lastTransitionTime": _ts(600)}],
        },
        "pending": {"phase": "Pending"},
        "restarting": {
            "phase": "Running", "conditions": ready,
            "containerStatuses": [_container(image, running, ready=True, restarts=restarts + 1, last=crashed)],
        },
        "oom_last": {
            "phase": "Running", "conditions": ready,
            "containerStatuses": [_container(
                image, running, ready=True, restarts=1,
                last={"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": _ts(600)}})],
        },
        "succeeded": {
            "phase": "Succeeded",
            "containerStatuses": [_container(image, {"terminated": {"reason": "Completed", "exitCode": 0}})],
        },
        "init_crashloop": {
            "phase": "Pending", "conditions": not_ready,
            "initContainerStatuses": [_container(
                image, {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=restarts, last=crashed, name="init")],
            "containerStatuses": [_container(image, {"waiting": {"reason": "PodInitializing"}})],
        },
    }  # fmt: skip
    if preset not in presets:
        raise KeyError(f"unknown pod status preset {preset!r}; known: {', '.join(presets)}")
    return presets[preset]


def set_pod_status(api: ApiClient, namespace: str, name: str, preset: str, **kw: Any) -> None:
    CoreV1Api(api).patch_namespaced_pod_status(name, namespace, {"status": pod_status(preset, **kw)})


FAILING_PRESETS = (
    "crashloop", "image_pull_backoff", "oom_killed", "evicted", "unschedulable", "err_image_pull",
    "create_container_config_error", "error",
)  # fmt: skip


def create_fleet_pods(api: ApiClient, namespace: str, pods: int, failing: int) -> list[str]:
    """`pods` pods named web-NNNN, the first `failing` of them failing in mixed states (one of
    FAILING_PRESETS each, in turn), every tenth of the rest Running; returns the failing names."""
    from concurrent.futures import ThreadPoolExecutor

    names = [f"web-{i:04d}" for i in range(pods)]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda n: create_pod(api, namespace, n[1], labels={"app": f"web-{n[0] % 20}"}),
                enumerate(names),
            )
        )
        list(pool.map(lambda i: set_pod_status(api, namespace, names[i], FAILING_PRESETS[i % len(FAILING_PRESETS)]),
                      range(failing)))  # fmt: skip
        list(
            pool.map(lambda i: set_pod_status(api, namespace, names[i], "running"), range(failing, pods, 10))
        )
    return names[:failing]


def create_crd(
    api: ApiClient,
    group: str = "example.com",
    kind: str = "CronTab",
    plural: str = "crontabs",
    short_names: tuple[str, ...] = (),
) -> None:
    """A namespaced CRD with a printer column (`SPEC` from .spec.cronSpec), served at v1; waits
    until the API server serves it."""
    import time

    from kubernetes.client import ApiextensionsV1Api, CustomObjectsApi
    from kubernetes.client.exceptions import ApiException

    ApiextensionsV1Api(api).create_custom_resource_definition(
        {
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "shortNames": list(short_names)},
                "versions": [
                    {
                        "name": "v1", "served": True, "storage": True,
                        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                        "additionalPrinterColumns": [
                            {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                        ],
                    }
                ],
            },
        }
    )  # fmt: skip
    for _ in range(100):
        try:
            CustomObjectsApi(api).list_cluster_custom_object(group, "v1", plural, limit=1)
            return
        except ApiException as exc:
            if exc.status != 404:
                raise
        time.sleep(0.1)
    raise TimeoutError(f"{plural}.{group} was not served within 10 s")


def create_custom_object(
    api: ApiClient,
    namespace: str,
    name: str,
    spec: dict[str, Any],
    group: str = "example.com",
    kind: str = "CronTab",
    plural: str = "crontabs",
) -> None:
    from kubernetes.client import CustomObjectsApi

    CustomObjectsApi(api).create_namespaced_custom_object(
        group, "v1", namespace, plural,
        {"apiVersion": f"{group}/v1", "kind": kind, "metadata": {"name": name}, "spec": spec},
    )  # fmt: skip


def create_secret(
    api: ApiClient, namespace: str, name: str, values: dict[str, str], *, applied: bool = False
) -> None:
    """A Secret holding `values`; `applied`: as `kubectl apply` leaves it, with the whole Secret
    (values included) in the last-applied-configuration annotation."""
    import base64
    import json

    body: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }  # fmt: skip
    if applied:
        last = json.dumps({**body, "metadata": dict(body["metadata"])}, sort_keys=True)
        body["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": last}
    CoreV1Api(api).create_namespaced_secret(namespace, body)


def create_configmap(api: ApiClient, namespace: str, name: str, data: dict[str, str]) -> None:
    CoreV1Api(api).create_namespaced_config_map(namespace, {"metadata": {"name": name}, "data": data})
