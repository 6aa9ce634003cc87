"""Seed real API servers with nodes, deployments and pods, and write their status like a kubelet.

There is no kubelet or controller manager in the local control plane, so status is written
through the status subresource, the way the kubelet (pods, nodes) and the deployment controller
(deployments) would write it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api
from kubernetes.client.exceptions import ApiException


def _ts(seconds_ago: float = 0) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_namespace(api: ApiClient, name: str) -> None:
    CoreV1Api(api).create_namespace({"metadata": {"name": name}})


def wait_until_pods_can_start(api: ApiClient, namespace: str, timeout: float = 30.0) -> None:
    """Where a controller manager runs (real nodes), a new namespace gets its `default`
    ServiceAccount and its `kube-root-ca.crt` ConfigMap a moment after it is created: a pod made
    before the first is refused, one made before the second waits in ContainerCreating for the
    kubelet's retry of its token volume (seconds). Wait for both, as a careful script would."""
    core = CoreV1Api(api)
    deadline = time.monotonic() + timeout
    for read in (
        lambda: core.read_namespaced_service_account("default", namespace),
        lambda: core.read_namespaced_config_map("kube-root-ca.crt", namespace),
    ):
        while True:
            try:
                read()
                break
            except ApiException as error:
                if error.status != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(0.1)


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


# -- realistic fleets (benchmarks) ---------------------------------------------------------------
# Pods as a production cluster holds them: most Running and Ready, owned by a ReplicaSet of a
# Deployment, two or three containers (the app and its sidecars), the labels a chart sets, spread
# over a few namespaces and nodes; a few failing in mixed states. Status is written whole, with a
# JSON merge patch (lists replaced), so a pod moved from healthy to failing and back keeps no
# stale container state.

REALISTIC_NAMESPACES = ("shop", "payments", "search", "identity", "data")
REALISTIC_PODS_PER_APP = 20
REALISTIC_NODES = 20
_SIDECARS = (("envoy", "envoyproxy/envoy:v1.31.2"), ("metrics", "prom/statsd-exporter:v0.27.1"))


def realistic_app(app: int) -> tuple[str, str, str]:
    """(namespace, deployment name, ReplicaSet name) of the `app`-th application."""
    name = f"svc-{app:03d}"
    template_hash = f"{(app * 2654435761) % 16**10:010x}"
    return REALISTIC_NAMESPACES[app % len(REALISTIC_NAMESPACES)], name, f"{name}-{template_hash}"


def realistic_pod(index: int, pods_per_app: int = REALISTIC_PODS_PER_APP) -> tuple[str, dict[str, Any]]:
    """(namespace, body) of the `index`-th pod: its app is `index // pods_per_app`."""
    app = index // pods_per_app
    namespace, deployment, replicaset = realistic_app(app)
    containers = [(deployment, f"registry.example.com/{namespace}/{deployment}:v1.{app % 7}.{index % 3}")]
    containers += list(_SIDECARS[: 1 + app % 2])
    labels = {
        "app.kubernetes.io/name": deployment, "app.kubernetes.io/instance": f"{deployment}-prod",
        "app.kubernetes.io/part-of": namespace, "app.kubernetes.io/version": f"1.{app % 7}.{index % 3}",
        "pod-template-hash": replicaset.rsplit("-", 1)[1], "team": f"team-{app % 9}", "tier": "backend",
    }  # fmt: skip
    body = {
        "metadata": {
            "name": f"{replicaset}-{index:05d}",
            "labels": labels,
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9102"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replicaset,
                 "uid": f"00000000-0000-4000-8000-{app:012d}", "controller": True, "blockOwnerDeletion": True}
            ],
        },
        "spec": {
            "nodeName": f"node-{index % REALISTIC_NODES:02d}",
            "serviceAccountName": "default",
            "containers": [
                {
                    "name": name, "image": image,
                    "ports": [{"containerPort": 8080 + n, "protocol": "TCP"}],
                    "env": [{"name": f"SETTING_{k}", "value": f"value-{k}"} for k in range(4)],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
                }
                for n, (name, image) in enumerate(containers)
            ],
        },
    }  # fmt: skip
    return namespace, body


def realistic_status(body: dict[str, Any], preset: str = "running") -> dict[str, Any]:
    """The whole status the kubelet would write for `body`: `running` (every container Running and
    Ready) or one of FAILING_PRESETS / `pod_status`'s presets, the first container being the one
    that fails and the sidecars running."""
    index = int(body["metadata"]["name"].rsplit("-", 1)[1])
    containers = body["spec"]["containers"]
    started = _ts(3600 + index % 600)
    conditions = [
        {"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": started}
        for kind in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
    ]
    running = [
        {
            "name": c["name"], "image": c["image"], "imageID": f"{c['image']}@sha256:{index:064x}",
            "containerID": f"containerd://{index:032x}{n:032x}", "ready": True, "started": True,
            "restartCount": 0, "state": {"running": {"startedAt": started}},
        }
        for n, c in enumerate(containers)
    ]  # fmt: skip
    status: dict[str, Any] = {
        "phase": "Running", "conditions": conditions, "containerStatuses": running, "qosClass": "Burstable",
        "hostIP": f"10.0.0.{10 + index % REALISTIC_NODES}", "podIP": f"10.244.{index // 250 % 250}.{index % 250 + 2}",
        "startTime": started, "reason": None, "message": None,
    }  # fmt: skip
    if preset == "running":
        return status
    failing = pod_status(preset, image=containers[0]["image"])
    status.update(
        {"phase": failing["phase"], "reason": failing.get("reason"), "message": failing.get("message")}
    )
    if "conditions" in failing:
        status["conditions"] = [
            c for c in conditions if c["type"] not in {x["type"] for x in failing["conditions"]}
        ]
        status["conditions"] += failing["conditions"]
    if "containerStatuses" in failing:
        first = {**running[0], **failing["containerStatuses"][0], "name": containers[0]["name"]}
        status["containerStatuses"] = [first, *running[1:]]
    elif preset == "unschedulable":
        status.update(containerStatuses=None, hostIP=None, podIP=None, startTime=None)
        status["conditions"] = failing["conditions"]
    else:  # evicted: the kubelet stopped every container
        status["containerStatuses"] = [
            {**c, "ready": False, "started": False,
             "state": {"terminated": {"reason": "ContainerStatusUnknown", "exitCode": 137, "finishedAt": _ts(60)}}}
            for c in running
        ]  # fmt: skip
    return status


def _send(api: ApiClient, method: str, path: str, body: dict[str, Any], content_type: str) -> None:
    """One request through the client's connection pool, without its (de)serialization: the typed
    client spends ~7 ms of CPU a call on it, more than the API server takes to answer."""
    import json

    headers = {"Content-Type": content_type, "Accept": "application/json"}
    auth = api.configuration.auth_settings().get("BearerToken")
    if auth and auth.get("value"):
        headers["Authorization"] = auth["value"]
    answer = api.rest_client.pool_manager.request(
        method, api.configuration.host + path, body=json.dumps(body).encode(), headers=headers, timeout=60
    )
    if answer.status >= 300:
        raise RuntimeError(f"{method} {path}: {answer.status} {answer.data[:300]!r}")


def _merge_status(api: ApiClient, namespace: str, name: str, status: dict[str, Any]) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods/{name}/status"
    _send(api, "PATCH", path, {"status": status}, "application/merge-patch+json")


def failing_preset(index: int) -> str:
    """The failing state of the `index`-th failing pod: FAILING_PRESETS in turn."""
    return FAILING_PRESETS[index % len(FAILING_PRESETS)]


def steady_failing(pods: int, failing_every: int = 50, first: int = 0) -> dict[int, str]:
    """Index -> failing preset of the pods `create_realistic_fleet` seeds failing: one in
    `failing_every` (0: none), in FAILING_PRESETS in turn."""
    if not failing_every:
        return {}
    return {
        i: failing_preset((i - first) // failing_every)
        for i in range(first + failing_every // 2, first + pods, failing_every)
    }


def realistic_names(indexes: Iterable[int]) -> list[str]:
    return [str(realistic_pod(i)[1]["metadata"]["name"]) for i in indexes]


def create_realistic_fleet(
    api: ApiClient, pods: int, failing_every: int = 50, *, first: int = 0, workers: int = 16
) -> list[str]:
    """`pods` realistic pods (indexes `first`...: give each cluster its own to tell their pods
    apart) in REALISTIC_NAMESPACES (created if missing), their Deployments (one per
    `REALISTIC_PODS_PER_APP` pods, as ready as their pods) and REALISTIC_NODES Ready nodes; the pods
    of `steady_failing` failing, the rest Running and Ready. Returns the failing pods' names."""
    from concurrent.futures import ThreadPoolExecutor

    core = CoreV1Api(api)
    existing = {n.metadata.name for n in core.list_namespace().items}
    for namespace in REALISTIC_NAMESPACES:
        if namespace not in existing:
            create_namespace(api, namespace)
    existing_nodes = {n.metadata.name for n in core.list_node().items}
    for node in range(REALISTIC_NODES):
        if f"node-{node:02d}" not in existing_nodes:
            create_node(api, f"node-{node:02d}", labels={"topology.kubernetes.io/zone": f"zone-{node % 3}"})
    failing = steady_failing(pods, failing_every, first)
    indexes = range(first, first + pods)

    def one(i: int) -> None:
        namespace, body = realistic_pod(i)
        _send(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body, "application/json")
        _merge_status(
            api, namespace, body["metadata"]["name"], realistic_status(body, failing.get(i, "running"))
        )

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, indexes))
    for app in range(first // REALISTIC_PODS_PER_APP, (first + pods - 1) // REALISTIC_PODS_PER_APP + 1):
        namespace, deployment, _ = realistic_app(app)
        per_app = REALISTIC_PODS_PER_APP
        members = range(max(first, app * per_app), min(first + pods, (app + 1) * per_app))
        ready = sum(i not in failing for i in members)
        create_deployment(api, namespace, deployment, replicas=len(members), ready=ready,
                          labels={"app.kubernetes.io/name": deployment})  # fmt: skip
    return realistic_names(failing)


def set_realistic_statuses(api: ApiClient, presets: dict[int, str], *, workers: int = 16) -> None:
    """Write the status of the pods of `create_realistic_fleet` at these indexes (`running` makes
    one healthy again), e.g. an incident: a third of them failing."""
    from concurrent.futures import ThreadPoolExecutor

    def one(item: tuple[int, str]) -> None:
        namespace, body = realistic_pod(item[0])
        _merge_status(api, namespace, body["metadata"]["name"], realistic_status(body, item[1]))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, presets.items()))


def incident_presets(
    pods: int, share: float = 0.3, failing_every: int = 50, first: int = 0
) -> dict[int, str]:
    """An incident over the fleet of `create_realistic_fleet`: `share` of its pods failing (those
    already failing stay as they are; whole services go down), in FAILING_PRESETS in turn."""
    wanted = round(pods * share)
    already = steady_failing(pods, failing_every, first)
    more = [i for i in range(first, first + pods) if i not in already][: max(0, wanted - len(already))]
    return {i: failing_preset(n) for n, i in enumerate(more)}
