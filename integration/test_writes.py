"""The original's write tools on a real API server: each one for real and as a dry run that
changes nothing, server-side apply with its conflicts, drain with a PodDisruptionBudget that
blocks one eviction, the guards, and a one-line error for every kind of bad input."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client import AppsV1Api, AutoscalingV2Api, CoreV1Api, CustomObjectsApi, PolicyV1Api

from integration import seed
from integration.backends import Fleet
from integration.test_objects import Server
from k8s_multicluster_mcp.kube.discovery import REFRESH_ON_MISS
from k8s_multicluster_mcp.settings import Settings

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"""


@pytest.fixture(scope="module")
def server(fleet: Fleet) -> Iterator[Server]:
    made = Server(Settings(kubeconfig_dir=fleet.kubeconfig_dir, request_timeout=5, toolsets=("all",)))
    yield made
    made.state.close()


def snapshot(api: Any, namespace: str) -> str:
    """Everything a write in `namespace` could have changed (and nodes and namespaces), to
    compare before and after."""
    core, apps = CoreV1Api(api), AppsV1Api(api)
    listed = [
        AutoscalingV2Api(api).list_namespaced_horizontal_pod_autoscaler(namespace),
        PolicyV1Api(api).list_namespaced_pod_disruption_budget(namespace),
        apps.list_namespaced_replica_set(namespace),
        apps.list_namespaced_deployment(namespace),
        apps.list_namespaced_stateful_set(namespace),
        apps.list_namespaced_daemon_set(namespace),
        apps.list_namespaced_controller_revision(namespace),
        core.list_namespaced_service(namespace),
        core.list_namespaced_config_map(namespace),
        core.list_namespaced_secret(namespace),
        core.list_namespaced_pod(namespace),
        core.list_node(),
        core.list_namespace(),
    ]
    parts = [[(o.metadata.name, o.metadata.resource_version) for o in items.items] for items in listed]
    return json.dumps(parts, default=str)


def both(
    server: Server, api: Any, where: str, tool: str, **arguments: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tool as a dry run (nothing may change in namespace `where` or the namespace list),
    then for real; both answers."""
    before = snapshot(api, where)
    body, dry, is_error = server.call(tool, **arguments, dry_run=True)
    assert not is_error, body
    assert dry["dry_run"] and "DRY RUN" in body
    assert snapshot(api, where) == before, f"{tool} dry run changed something"
    body, real, is_error = server.call(tool, **arguments)
    assert not is_error, body
    return dry, real


def test_create_apply_and_delete(server: Server, fleet: Fleet, namespace: str) -> None:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    apps = AppsV1Api(api)
    dry, real = both(
        server,
        api,
        namespace,
        "k8s_apply_resource",
        context=ctx,
        namespace=namespace,
        yaml_content=DEPLOYMENT,
    )
    assert [i["verb"] for i in real["items"]] == ["created"] == [i["verb"] for i in dry["items"]]
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 2
    managers = {m.manager for m in apps.read_namespaced_deployment("web", namespace).metadata.managed_fields}
    assert managers == {"k8s-multicluster-mcp"}

    updated = DEPLOYMENT.replace("replicas: 2", "replicas: 4").replace("nginx:1.27", "nginx:1.28")
    dry, real = both(
        server, api, namespace, "k8s_apply_resource", context=ctx, namespace=namespace, yaml_content=updated
    )
    changes = {c["path"]: (c.get("before"), c.get("after")) for c in real["items"][0]["changes"]}
    assert changes == {
        "spec.replicas": (2, 4),
        "spec.template.spec.containers[name=web].image": ("nginx:1.27", "nginx:1.28"),
    }
    assert dry["items"][0]["changes"] == real["items"][0]["changes"]
    _, again, _ = server.call("k8s_apply_resource", context=ctx, namespace=namespace, yaml_content=updated)
    assert again["items"][0]["verb"] == "unchanged"

    # Another manager takes spec.replicas; applying ours again conflicts until force.
    apps.patch_namespaced_deployment(
        "web", namespace, {"spec": {"replicas": 7}}, field_manager="kubectl-edit"
    )
    conflicting = updated.replace("replicas: 4", "replicas: 5")
    body, data, is_error = server.call(
        "k8s_apply_resource", context=ctx, namespace=namespace, yaml_content=conflicting
    )
    assert is_error and data["items"][0]["verb"] == "conflict"
    assert '.spec.replicas ("kubectl-edit")' in data["items"][0]["error"] and "force=true" in body
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 7
    _, data, _ = server.call(
        "k8s_apply_resource", context=ctx, namespace=namespace, yaml_content=conflicting, force=True
    )
    assert data["items"][0]["verb"] == "configured"
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 5

    multi = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"
    )
    _, data = both(
        server, api, namespace, "k8s_create_resource", context=ctx, namespace=namespace, yaml_content=multi
    )
    assert [(i["name"], i["verb"]) for i in data["items"]] == [("a", "created"), ("b", "created")]
    # Apply, several documents in order: one configured, one unchanged, one created.
    first = multi.replace("name: a", "name: a2").replace("name: b", "name: b2")
    server.call("k8s_apply_resource", context=ctx, namespace=namespace, yaml_content=first)
    applied = (
        first.replace("data: {k: v}", "data: {k: w}")
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c2}\n"
    )
    _, data = both(
        server, api, namespace, "k8s_apply_resource", context=ctx, namespace=namespace, yaml_content=applied
    )
    assert [(i["name"], i["verb"]) for i in data["items"]] == [
        ("a2", "configured"),
        ("b2", "unchanged"),
        ("c2", "created"),
    ]
    assert data["items"][0]["changes"] == [{"path": "data.k", "before": "v", "after": "w"}]
    body, data, is_error = server.call(
        "k8s_create_resource", context=ctx, namespace=namespace, yaml_content=multi
    )
    assert (
        is_error and [i["verb"] for i in data["items"]] == ["failed", "failed"] and "already exists" in body
    )

    both(
        server,
        api,
        namespace,
        "k8s_delete_resource",
        context=ctx,
        namespace=namespace,
        resource_type="cm",
        name="a",
    )
    assert [
        c.metadata.name
        for c in CoreV1Api(api).list_namespaced_config_map(namespace).items
        if c.metadata.name in "ab"
    ] == ["b"]


def test_a_custom_resource_is_created_patched_and_deleted(
    server: Server, fleet: Fleet, namespace: str
) -> None:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    group = f"w{namespace[2:]}.example.com"
    seed.create_crd(api, group=group, kind="Gadget", plural="gadgets")
    time.sleep(REFRESH_ON_MISS)  # discovery is asked again on a miss at most this often
    manifest = (
        f"apiVersion: {group}/v1\nkind: Gadget\nmetadata:\n  name: g1\nspec:\n  cronSpec: '* * * * *'\n"
    )
    custom = CustomObjectsApi(api)

    def gadgets() -> list[tuple[str, str]]:
        listed = custom.list_namespaced_custom_object(group, "v1", namespace, "gadgets")["items"]
        return [(g["metadata"]["name"], g["metadata"]["resourceVersion"]) for g in listed]

    calls: list[tuple[str, dict[str, Any]]] = [
        ("k8s_create_resource", {"yaml_content": manifest}),
        (
            "k8s_patch_resource",
            {"resource_type": "gadget", "name": "g1", "patch": {"spec": {"cronSpec": "0 * * * *"}}},
        ),
        ("k8s_delete_resource", {"resource_type": f"gadgets.{group}", "name": "g1"}),
    ]
    answers = []
    for tool, arguments in calls:
        before = gadgets()
        body, dry, is_error = server.call(tool, context=ctx, namespace=namespace, dry_run=True, **arguments)
        assert not is_error and dry["dry_run"], body
        assert gadgets() == before, f"{tool} dry run changed something"
        _, real, _ = server.call(tool, context=ctx, namespace=namespace, **arguments)
        answers.append(real["items"][0])
    assert [a["verb"] for a in answers] == ["created", "configured", "deleted"]
    assert answers[1]["changes"] == [{"path": "spec.cronSpec", "before": "* * * * *", "after": "0 * * * *"}]
    assert gadgets() == []


def test_scale_label_annotate_patch_resources(server: Server, fleet: Fleet, namespace: str) -> None:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    apps = AppsV1Api(api)
    server.call("k8s_apply_resource", context=ctx, namespace=namespace, yaml_content=DEPLOYMENT)
    scope = {"context": ctx, "namespace": namespace, "resource_type": "deployment", "name": "web"}
    listed = {"kind": "deployments", "context": ctx, "namespace": namespace}
    assert server.call("k8s_get_resources", **listed)[1]["items"][0]["ready"] == "0/2"
    _, real = both(server, api, namespace, "k8s_scale_resource", **scope, replicas=3)
    # The on-demand lists of this context were cached; the write made the next question list again.
    assert server.call("k8s_get_resources", **listed)[1]["items"][0]["ready"] == "0/3"
    assert real["items"][0]["changes"] == [{"path": "spec.replicas", "before": 2, "after": 3}]
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 3
    # A Scale of 0 replicas omits the field; the answer still says 3 -> 0, not a removed field.
    _, zero, _ = server.call("k8s_scale_resource", **scope, replicas=0, dry_run=True)
    assert zero["items"][0]["changes"] == [{"path": "spec.replicas", "before": 3, "after": 0}]

    both(server, api, namespace, "k8s_label_resource", **scope, labels={"tier": "front"})
    assert apps.read_namespaced_deployment("web", namespace).metadata.labels == {
        "app": "web",
        "tier": "front",
    }
    message = server.error("k8s_label_resource", **scope, labels={"app": "api"})
    assert (
        message
        == "label 'app' already set to another value on Deployment 'web'; pass overwrite=true to replace"
    )
    server.call("k8s_label_resource", **scope, labels={"app": "api", "tier": None}, overwrite=True)
    assert apps.read_namespaced_deployment("web", namespace).metadata.labels == {"app": "api"}
    both(server, api, namespace, "k8s_annotate_resource", **scope, annotations={"owner": "team-a"})
    assert apps.read_namespaced_deployment("web", namespace).metadata.annotations["owner"] == "team-a"

    both(server, api, namespace, "k8s_patch_resource", **scope, patch={"spec": {"minReadySeconds": 5}})
    both(
        server,
        api,
        namespace,
        "k8s_patch_resource",
        **scope,
        patch=[{"op": "replace", "path": "/spec/minReadySeconds", "value": 9}],
    )
    assert apps.read_namespaced_deployment("web", namespace).spec.min_ready_seconds == 9

    _, real = both(server, api, namespace, "k8s_update_resources", context=ctx, namespace=namespace, resource_type="deploy",
                   name="web", container="web", cpu_request="100m", memory_limit="256Mi")  # fmt: skip
    assert {c["path"] for c in real["items"][0]["changes"]} == {
        "spec.template.spec.containers[name=web].resources.limits.memory",
        "spec.template.spec.containers[name=web].resources.requests.cpu",
    }
    both(server, api, namespace, "k8s_set_resources_for_container", context=ctx, namespace=namespace,
         resource_type="deploy", resource_name="web", limits={"cpu": "1"}, requests={"memory": "64Mi"})  # fmt: skip
    resources = apps.read_namespaced_deployment("web", namespace).spec.template.spec.containers[0].resources
    assert (resources.limits, resources.requests) == (
        {"cpu": "1", "memory": "256Mi"},
        {"cpu": "100m", "memory": "64Mi"},
    )

    _, real = both(
        server,
        api,
        namespace,
        "k8s_autoscale_resource",
        **scope,
        min_replicas=2,
        max_replicas=6,
        cpu_percent=70,
    )
    assert real["items"][0]["verb"] == "created"
    hpa = AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler("web", namespace)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas, hpa.spec.scale_target_ref.kind) == (
        2,
        6,
        "Deployment",
    )


def test_rollouts(server: Server, fleet: Fleet, namespace: str) -> None:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    apps = AppsV1Api(api)
    server.call("k8s_apply_resource", context=ctx, namespace=namespace, yaml_content=DEPLOYMENT)
    scope = {"context": ctx, "namespace": namespace, "resource_type": "deployment", "name": "web"}
    _, real = both(server, api, namespace, "k8s_rollout_restart", **scope)
    path = "spec.template.metadata.annotations.kubectl.kubernetes.io/restartedAt"
    assert [c["path"] for c in real["items"][0]["changes"]] == [path]
    both(server, api, namespace, "k8s_rollout_pause", **scope)
    assert apps.read_namespaced_deployment("web", namespace).spec.paused is True
    both(server, api, namespace, "k8s_rollout_resume", **scope)
    assert not apps.read_namespaced_deployment("web", namespace).spec.paused

    # Undo: the revisions are ReplicaSets the deployment controller would have made.
    deployment = apps.read_namespaced_deployment("web", namespace)
    apps.patch_namespaced_deployment("web", namespace, {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "2"}},
                                                        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}})  # fmt: skip
    for revision, image in ((1, "nginx:1"), (2, "nginx:2")):
        apps.create_namespaced_replica_set(namespace, {
            "metadata": {"name": f"web-{revision}", "labels": {"app": "web", "pod-template-hash": f"h{revision}"},
                         "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                              "uid": deployment.metadata.uid, "controller": True}]},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web", "pod-template-hash": f"h{revision}"}},
                     "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": f"h{revision}"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}})  # fmt: skip
    _, real = both(server, api, namespace, "k8s_rollout_undo", **scope)
    assert real["items"][0]["detail"] == "rolled back to revision 1"
    changes = {c["path"]: c.get("after") for c in real["items"][0]["changes"]}
    assert changes["spec.template.spec.containers[name=web].image"] == "nginx:1"
    template = apps.read_namespaced_deployment("web", namespace).spec.template
    assert (
        template.spec.containers[0].image == "nginx:1" and "pod-template-hash" not in template.metadata.labels
    )
    message = server.error("k8s_rollout_undo", **scope, to_revision=9)
    assert message == "no revision 9 of Deployment 'web'; revisions kept: 1, 2"


def test_expose_run_secret_configmap_namespace(server: Server, fleet: Fleet, namespace: str) -> None:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    core = CoreV1Api(api)
    server.call("k8s_apply_resource", context=ctx, namespace=namespace, yaml_content=DEPLOYMENT)
    both(server, api, namespace, "k8s_expose_resource", context=ctx, namespace=namespace, resource_type="deploy",
         name="web", port=80, target_port=8080)  # fmt: skip
    service = core.read_namespaced_service("web", namespace)
    assert service.spec.selector == {"app": "web"} and service.spec.ports[0].target_port == 8080

    both(server, api, namespace, "k8s_run_pod", context=ctx, namespace=namespace, name="debug", image="busybox:1.36",
         command=["sleep", "3600"])  # fmt: skip
    assert core.read_namespaced_pod("debug", namespace).spec.containers[0].command == ["sleep", "3600"]

    secret_value = "s3cr3t-value-for-the-test"
    dry, real = both(server, api, namespace, "k8s_create_secret_resource", context=ctx, namespace=namespace, name="db",
                     data={"password": secret_value})  # fmt: skip
    assert secret_value not in json.dumps([dry, real])
    assert real["items"][0]["object"]["data"] == {"password": f"<redacted: {len(secret_value)} bytes>"}
    assert (
        base64.b64decode(core.read_namespaced_secret("db", namespace).data["password"]).decode()
        == secret_value
    )
    both(
        server,
        api,
        namespace,
        "k8s_create_configmap_resource",
        context=ctx,
        namespace=namespace,
        name="cfg",
        data={"k": "v"},
    )
    assert core.read_namespaced_config_map("cfg", namespace).data == {"k": "v"}

    extra = f"{namespace}-x"
    both(server, api, namespace, "k8s_create_ns", context=ctx, name=extra)
    both(server, api, namespace, "k8s_delete_ns", context=ctx, name=extra)
    for protected in ("kube-system", "default", "kube-public", "kube-node-lease"):
        assert "is protected and cannot be deleted" in server.error(
            "k8s_delete_ns", context=ctx, name=protected
        )
        assert "is protected" in server.error(
            "k8s_delete_resource", context=ctx, resource_type="ns", name=protected
        )


def test_nodes_cordon_taint_and_drain_with_a_blocking_pdb(
    server: Server, fleet: Fleet, namespace: str
) -> None:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    core = CoreV1Api(api)
    node = f"{namespace}-node"
    seed.create_node(api, node)
    both(server, api, namespace, "k8s_cordon_node", context=ctx, node_name=node)
    assert core.read_node(node).spec.unschedulable
    both(server, api, namespace, "k8s_uncordon_node", context=ctx, node_name=node)
    assert not core.read_node(node).spec.unschedulable
    both(
        server,
        api,
        namespace,
        "k8s_taint_node",
        context=ctx,
        node_name=node,
        key="dedicated",
        value="gpu",
        effect="NoSchedule",
    )
    taints = [(t.key, t.value, t.effect) for t in core.read_node(node).spec.taints]
    assert ("dedicated", "gpu", "NoSchedule") in taints, "added beside the taint admission put there"
    both(server, api, namespace, "k8s_untaint_node", context=ctx, node_name=node, key="dedicated")
    assert "dedicated" not in [t.key for t in core.read_node(node).spec.taints or ()]
    assert "has no taint dedicated" in server.error(
        "k8s_untaint_node", context=ctx, node_name=node, key="dedicated"
    )

    owner = ("ReplicaSet", "rs")
    seed.create_pod(api, namespace, "free-1", labels={"app": "free"}, node=node, owner=owner)
    seed.create_pod(api, namespace, "guarded-1", labels={"app": "guarded"}, node=node, owner=owner)
    seed.set_pod_status(api, namespace, "guarded-1", "running")  # Pending pods ignore budgets
    seed.create_pod(api, namespace, "bare", node=node)
    seed.create_pod(api, namespace, "agent", node=node, owner=("DaemonSet", "agent"))
    policy = PolicyV1Api(api)
    policy.create_namespaced_pod_disruption_budget(namespace, {"metadata": {"name": "guard"},
                                                              "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}})  # fmt: skip
    # No disruption controller here: write the status it would, allowing no disruption.
    policy.patch_namespaced_pod_disruption_budget_status("guard", namespace, {"status": {
        "observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}})  # fmt: skip
    before = snapshot(api, namespace)
    body, data, _ = server.call("k8s_drain_node", context=ctx, node_name=node, timeout=2, dry_run=True)
    assert snapshot(api, namespace) == before and not core.read_node(node).spec.unschedulable
    body, data, is_error = server.call("k8s_drain_node", context=ctx, node_name=node, timeout=2)
    assert not is_error, body
    verbs = {(i["name"], i["verb"]) for i in data["items"]}
    assert verbs == {(node, "configured"), ("free-1", "evicted"), ("guarded-1", "not evicted"), ("bare", "skipped"),
                     ("agent", "skipped")}  # fmt: skip
    blocked = next(i for i in data["items"] if i["name"] == "guarded-1")
    assert "disruption budget" in blocked["error"] and "retried for 2s" in blocked["error"]
    # Evicted, but no kubelet here to finish the deletion: drain waited for it, then said so.
    assert next(i for i in data["items"] if i["name"] == "free-1")["detail"] == "still terminating after 2s"
    assert core.read_node(node).spec.unschedulable
    assert core.read_namespaced_pod("free-1", namespace).metadata.deletion_timestamp is not None
    assert core.read_namespaced_pod("guarded-1", namespace).metadata.deletion_timestamp is None


def test_exec_says_why_the_cluster_cannot_run_it(server: Server, fleet: Fleet, namespace: str) -> None:
    ctx = fleet.contexts[0]
    seed.create_pod(fleet.admin(ctx), namespace, "box")
    body, _, is_error = server.call(
        "k8s_pod_exec", context=ctx, namespace=namespace, pod_name="box", command=["ls", "/"]
    )
    assert is_error
    assert body.splitlines()[1] == (
        f"  {ctx}: error — container app of pod {namespace}/box is not running (no status from a "
        "kubelet yet); exec needs a running container"
    )


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("k8s_apply_resource", {"yaml_content": "a: [1"}, "invalid YAML at line 1"),
        ("k8s_apply_resource", {"yaml_content": "kind: Pod"}, "document 1 has no apiVersion, metadata.name"),
        (
            "k8s_create_resource",
            {"yaml_content": "apiVersion: v1\nkind: Gizmo\nmetadata: {name: x}"},
            "'Gizmo' group 'core' version 'v1' is not a served kind",
        ),
        (
            "k8s_delete_resource",
            {"resource_type": "cm", "name": "missing", "namespace": "default"},
            "ConfigMap 'missing' not found in namespace 'default'",
        ),
        (
            "k8s_scale_resource",
            {"resource_type": "deploy", "name": "x", "replicas": -1},
            "replicas must be 0 or more",
        ),
        (
            "k8s_patch_resource",
            {"resource_type": "cm", "name": "x", "patch": "{not json"},
            "patch is not JSON",
        ),
        (
            "k8s_patch_resource",
            {"resource_type": "cm", "name": "x", "patch": {"a": 1}, "patch_type": "json"},
            "a json patch is a list",
        ),
        (
            "k8s_update_resources",
            {"resource_type": "deploy", "name": "x", "container": "c", "cpu_limit": "lots"},
            "'lots' is not a quantity",
        ),
        ("k8s_taint_node", {"node_name": "n", "key": "bad key"}, "invalid taint key 'bad key'"),
        ("k8s_create_ns", {"name": "Bad_Name"}, "invalid namespace name 'Bad_Name'"),
        ("k8s_drain_node", {"node_name": "n", "timeout": 0}, "timeout must be between 1 and 600"),
        ("k8s_pod_exec", {"pod_name": "p", "command": []}, "command is empty"),
        (
            "k8s_pod_exec",
            {"pod_name": "p", "command": ["sh"], "tty": True},
            "interactive exec (stdin, tty) is not supported",
        ),
        ("k8s_create_secret_resource", {"name": "s", "data": {}}, "data is empty"),
        (
            "k8s_scale_resource",
            {"resource_type": "deploy", "name": "x", "replicas": 1, "context": "cp-*"},
            "works on one context",
        ),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    server: Server, fleet: Fleet, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    api = fleet.admin(fleet.contexts[0])
    before = snapshot(api, "default")
    context = {} if "context" in arguments else {"context": fleet.contexts[0]}
    assert expected in server.error(tool, **context, **arguments)
    assert snapshot(api, "default") == before
    _, _, is_error = server.call("k8s_get_namespaces", context=fleet.contexts[0])
    assert not is_error, "the server keeps serving"


def test_forbidden_writes_are_reported_and_change_nothing(
    server: Server, fleet: Fleet, namespace: str
) -> None:
    viewer = fleet.viewer(fleet.contexts[0])
    body, _, is_error = server.call(
        "k8s_create_configmap_resource", context=viewer, namespace="team-a", name="x", data={"a": "b"}
    )
    assert is_error
    assert body.splitlines()[1].startswith(
        f'  {viewer}: forbidden — User "viewer" cannot create resource "configmaps"'
    )


def test_scale_to_zero_is_refused_under_disable_destructive(fleet: Fleet, namespace: str) -> None:
    guarded = Server(
        Settings(kubeconfig_dir=fleet.kubeconfig_dir, disable_destructive=True, toolsets=("all",))
    )
    try:
        message = guarded.error("k8s_scale_resource", context=fleet.contexts[0], namespace=namespace,
                                resource_type="deploy", name="web", replicas=0)  # fmt: skip
        assert message == "scaling to zero is refused: the server runs with --disable-destructive"
    finally:
        guarded.state.close()


def test_undo_of_a_statefulset_applies_its_controller_revision(
    server: Server, fleet: Fleet, namespace: str
) -> None:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    apps = AppsV1Api(api)
    labels = {"app": "db"}

    def template(image: str) -> dict[str, Any]:
        return {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "db", "image": image}]}}

    sts = apps.create_namespaced_stateful_set(
        namespace,
        {"metadata": {"name": "db"},
         "spec": {"serviceName": "db", "replicas": 1, "selector": {"matchLabels": labels}, "template": template("db:2")}},
    )  # fmt: skip
    for revision, image in ((1, "db:1"), (2, "db:2")):
        apps.create_namespaced_controller_revision(
            namespace,
            {"metadata": {"name": f"db-{revision}", "labels": labels,
                          "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db",
                                               "uid": sts.metadata.uid, "controller": True}]},
             "revision": revision, "data": {"spec": {"template": {**template(image), "$patch": "replace"}}}},
        )  # fmt: skip
    apps.patch_namespaced_stateful_set_status("db", namespace, {"status": {
        "observedGeneration": 1, "replicas": 1, "currentRevision": "db-2", "updateRevision": "db-2"}})  # fmt: skip
    _, data, _ = server.call(
        "k8s_rollout_history", context=ctx, namespace=namespace, resource_type="sts", name="db"
    )
    assert [(i["revision"], i["current"], i["images"]) for i in data["items"]] == [
        (1, False, ["db:1"]),
        (2, True, ["db:2"]),
    ]
    _, real = both(server, api, namespace, "k8s_rollout_undo", context=ctx, namespace=namespace,
                   resource_type="statefulset", name="db")  # fmt: skip
    assert real["items"][0]["detail"] == "rolled back to revision 1"
    assert apps.read_namespaced_stateful_set("db", namespace).spec.template.spec.containers[0].image == "db:1"
