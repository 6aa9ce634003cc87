"""The read tools of the original on real API servers: any kind through discovery (a CRD and its
objects included), the dedicated listings, events, rollouts, logs/top where no kubelet or
metrics-server exists, diagnosis, and a one-line error for every kind of bad input."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import pytest
from kubernetes.client import (
    AppsV1Api,
    BatchV1Api,
    CoreV1Api,
    NetworkingV1Api,
    RbacAuthorizationV1Api,
    StorageV1Api,
)
from mcp.server.mcpserver.exceptions import ToolError

from integration import seed
from integration.backends import Fleet
from k8s_multicluster_mcp.server import build_registry, build_server, build_services
from k8s_multicluster_mcp.settings import Settings

GROUP = f"parity-{secrets.token_hex(3)}.example.com"
"""A group of our own: the fleet is shared by the whole session, CRDs are cluster-wide."""


class Server:
    def __init__(self, settings: Settings) -> None:
        self.state = build_services(settings, build_registry(settings))
        self.server = build_server(settings, self.state)

    def call(self, tool: str, **arguments: Any) -> tuple[str, dict[str, Any], bool]:
        result = anyio.run(self.server.call_tool, tool, arguments)
        return result.content[0].text, result.structured_content or {}, bool(result.is_error)

    def error(self, tool: str, **arguments: Any) -> str:
        with pytest.raises(ToolError) as caught:
            anyio.run(self.server.call_tool, tool, arguments)
        message = str(caught.value).removeprefix(f"Error executing tool {tool}: ")
        assert "\n" not in message and "Traceback" not in message
        return message


@pytest.fixture(scope="module")
def server(fleet: Fleet) -> Iterator[Server]:
    """Admin and viewer contexts of every cluster; the CRD is served by the first cluster only."""
    seed.create_crd(
        fleet.admin(fleet.contexts[0]), group=GROUP, kind="Widget", plural="widgets", short_names=("wdg",)
    )
    made = Server(Settings(kubeconfig_dir=fleet.kubeconfig_dir, request_timeout=5, toolsets=("all",)))
    yield made
    made.state.close()


def test_a_custom_resource_is_listed_got_and_described_by_every_name(
    server: Server, fleet: Fleet, namespace: str
) -> None:
    first, *others = fleet.contexts
    seed.create_custom_object(fleet.admin(first), namespace, "gizmo", {"cronSpec": "*/5 * * * *"},
                              group=GROUP, kind="Widget", plural="widgets")  # fmt: skip
    admins = ",".join(fleet.contexts)
    for word in ("widgets", "Widget", "widget", "wdg", f"widgets.{GROUP}", f"widgets.v1.{GROUP}"):
        body, data, is_error = server.call(
            "k8s_get_resources", kind=word, context=admins, namespace=namespace
        )
        assert not is_error, body
        assert data["columns"] == ["CONTEXT", "NAMESPACE", "NAME", "SPEC", "AGE"], word
        assert data["rows"] == [[first, namespace, "gizmo", "*/5 * * * *", data["rows"][0][-1]]], word
        statuses = {c["context"]: c["status"] for c in data["clusters"]}
        assert statuses[first] == "ok"
        for ctx in others:
            assert statuses[ctx] == "error"
            assert "is not a served kind" in body
    body, data, _ = server.call("k8s_get_resource", kind="widget", name="gizmo", context=first)
    assert data["objects"][0]["spec"] == {"cronSpec": "*/5 * * * *"}
    assert f"apiVersion: {GROUP}/v1" in body and "managedFields" not in body
    body, data, _ = server.call("k8s_get_resource", kind="Widget", name="gizmo", context=first, output="json")
    assert '"cronSpec": "*/5 * * * *"' in body
    body, _, _ = server.call("k8s_describe", resource_type=f"widgets.{GROUP}", name="gizmo", context=first)
    assert body.splitlines()[1:4] == [f"Context:      {first}", f"Kind:         Widget ({GROUP}/v1)",
                                      "Name:         gizmo"]  # fmt: skip
    assert "cronSpec: '*/5 * * * *'" in body and "Events:       <none>" in body
    body, data, _ = server.call("k8s_crds", context=first)
    assert [r[1:5] for r in data["rows"] if r[1] == f"widgets.{GROUP}"] == [
        [f"widgets.{GROUP}", "Widget", "Namespaced", "v1"]
    ]
    body, data, _ = server.call("k8s_apis", context=first)
    assert {"context": first, "group": GROUP, "versions": ["v1"], "kinds": ["Widget"]} in data["items"]


def test_cluster_info(server: Server, fleet: Fleet) -> None:
    first = fleet.contexts[0]
    body, data, is_error = server.call("k8s_cluster_info", context=f"{first},{fleet.viewer(first)}")
    assert not is_error
    admin, viewer = data["items"]
    assert admin["context"] == first and admin["version"].startswith("v1.") and admin["namespaces"] >= 4
    assert admin["nodes"] is not None and admin["server"].startswith("https://127.0.0.1:")
    assert viewer["version"] == admin["version"] and "nodes" not in viewer, "the viewer may not list nodes"
    assert body.splitlines()[1].split()[:2] == ["CONTEXT", "VERSION"]


def test_an_unknown_kind_names_the_closest_served_ones(server: Server, fleet: Fleet) -> None:
    message = server.error("k8s_get_resources", kind="deploymnets", context=fleet.contexts[0])
    assert message.startswith("'deploymnets' is not a served kind; closest served kinds: deployments.apps")
    message = server.error(
        "k8s_get_resource", kind="pods", name="x", group="metrics.k8s.io", context=fleet.contexts[0]
    )
    assert "'pods' group 'metrics.k8s.io' is not a served kind" in message


def test_dedicated_listings(server: Server, fleet: Fleet, namespace: str) -> None:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    tag = namespace
    RbacAuthorizationV1Api(api).create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        },
    )
    RbacAuthorizationV1Api(api).create_namespaced_role_binding(
        namespace,
        {"metadata": {"name": "reader-binding"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
         "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]},
    )  # fmt: skip
    RbacAuthorizationV1Api(api).create_cluster_role({"metadata": {"name": f"{tag}-cr"}, "rules": []})
    RbacAuthorizationV1Api(api).create_cluster_role_binding(
        {"metadata": {"name": f"{tag}-crb"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"{tag}-cr"},
         "subjects": [{"kind": "Group", "name": "ops", "apiGroup": "rbac.authorization.k8s.io"}]}
    )  # fmt: skip
    CoreV1Api(api).create_namespaced_service_account(namespace, {"metadata": {"name": "builder"}})
    CoreV1Api(api).create_namespaced_persistent_volume_claim(
        namespace, {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    )  # fmt: skip
    CoreV1Api(api).create_persistent_volume(
        {"metadata": {"name": f"{tag}-pv"}, "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/x"}}}
    )  # fmt: skip
    StorageV1Api(api).create_storage_class(
        {"metadata": {"name": f"{tag}-fast"}, "provisioner": "example.com/fast"}
    )
    NetworkingV1Api(api).create_namespaced_network_policy(
        namespace, {"metadata": {"name": "deny-all"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    )
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}
    BatchV1Api(api).create_namespaced_job(
        namespace, {"metadata": {"name": "migrate"}, "spec": {"template": template}}
    )
    BatchV1Api(api).create_namespaced_cron_job(
        namespace, {"metadata": {"name": "nightly"}, "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}}
    )  # fmt: skip
    seed.create_configmap(api, namespace, "settings", {"mode": "fast", "big": "y" * 5000})

    expected = {
        "k8s_get_roles": ("reader", ["CONTEXT", "NAMESPACE", "NAME", "AGE"]),
        "k8s_get_rolebindings": ("reader-binding", ["CONTEXT", "NAMESPACE", "NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]),
        "k8s_get_clusterroles": (f"{tag}-cr", ["CONTEXT", "NAME", "AGE"]),
        "k8s_get_clusterrolebindings": (f"{tag}-crb", ["CONTEXT", "NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]),
        "k8s_get_service_accounts": ("builder", None),
        "k8s_get_pvcs": ("data", None),
        "k8s_get_pvs": (f"{tag}-pv", None),
        "k8s_get_storage_classes": (f"{tag}-fast", None),
        "k8s_get_network_policies": ("deny-all", ["CONTEXT", "NAMESPACE", "NAME", "POD-SELECTOR", "AGE"]),
        "k8s_get_jobs": ("migrate", None),
        "k8s_get_cronjobs": ("nightly", None),
        "k8s_list_configmap": ("settings", ["CONTEXT", "NAMESPACE", "NAME", "DATA", "AGE"]),
    }  # fmt: skip
    for tool, (name, columns) in expected.items():
        cluster_scoped = tool in (
            "k8s_get_clusterroles",
            "k8s_get_clusterrolebindings",
            "k8s_get_pvs",
            "k8s_get_storage_classes",
        )
        arguments = {"context": ctx, "limit": 1000} | ({} if cluster_scoped else {"namespace": namespace})
        body, data, is_error = server.call(tool, **arguments)
        assert not is_error, (tool, body)
        names = [row[1 if cluster_scoped else 2] for row in data["rows"]]
        assert name in names, (tool, body)
        if columns:
            assert data["columns"] == columns, tool
    _, data, _ = server.call("k8s_get_clusterrolebindings", context=ctx, limit=1000)
    row = next(r for r in data["rows"] if r[1] == f"{tag}-crb")
    assert row[2] == f"ClusterRole/{tag}-cr" and row[5] == "ops"
    body, data, _ = server.call("k8s_get_configmap_detail", name="settings", namespace=namespace, context=ctx)
    assert data["objects"][0]["data"]["mode"] == "fast"
    assert data["objects"][0]["data"]["big"].endswith("… (5000 characters)")
    assert len(body) < 3000


def test_describe_without_a_name_says_how_many_more(server: Server, fleet: Fleet, namespace: str) -> None:
    ctx = fleet.contexts[0]
    for i in range(12):
        seed.create_configmap(fleet.admin(ctx), namespace, f"cm-{i:02}", {"k": "v"})
    body, data, _ = server.call("k8s_describe", resource_type="cm", context=ctx, namespace=namespace)
    assert len(data["objects"]) == 10
    assert body.splitlines()[-1] == f"… 2 more not shown ({ctx}: 2); name one object or narrow the selector."


def test_events_a_user_may_not_read_are_said_so(server: Server, fleet: Fleet) -> None:
    ctx = fleet.contexts[0]
    name = f"p-{secrets.token_hex(3)}"
    seed.create_pod(fleet.admin(ctx), "team-a", name)  # the one namespace the viewer may read
    try:
        body, _, is_error = server.call(
            "k8s_describe", resource_type="pod", name=name, namespace="team-a", context=fleet.viewer(ctx)
        )
        assert not is_error
        assert 'Events:       not read (forbidden: User "viewer" cannot list resource "events"' in body
    finally:
        # team-a is shared by the session: other tests count its pods.
        CoreV1Api(fleet.admin(ctx)).delete_namespaced_pod(name, "team-a", grace_period_seconds=0)


def test_limit_cuts_every_listing_saying_how_many_more(server: Server, fleet: Fleet, namespace: str) -> None:
    ctx = fleet.contexts[0]
    for i in range(7):
        seed.create_configmap(fleet.admin(ctx), namespace, f"cm-{i}", {"k": "v"})
    body, data, _ = server.call("k8s_list_configmap", context=ctx, namespace=namespace, limit=3)
    assert data["shown"] == 3 and data["total"] == 7
    assert body.splitlines()[-1] == f"… 4 more not shown ({ctx}: 4); raise `limit` or narrow the query."


def _event(
    api: Any, namespace: str, involved: dict[str, Any], name: str, reason: str, kind: str, minutes_ago: int
) -> None:
    when = (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    CoreV1Api(api).create_namespaced_event(
        namespace,
        {"metadata": {"name": name}, "involvedObject": involved, "reason": reason, "type": kind,
         "message": f"{reason} happened", "count": 3, "firstTimestamp": when, "lastTimestamp": when,
         "source": {"component": "test"}},
    )  # fmt: skip


def test_events_newest_first_filtered_and_shown_by_describe(
    server: Server, fleet: Fleet, namespace: str
) -> None:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    seed.create_pod(api, namespace, "web-1")
    pod = CoreV1Api(api).read_namespaced_pod("web-1", namespace)
    involved = {
        "kind": "Pod",
        "name": "web-1",
        "namespace": namespace,
        "uid": pod.metadata.uid,
        "apiVersion": "v1",
    }
    _event(api, namespace, involved, "e1", "Scheduled", "Normal", 30)
    _event(api, namespace, involved, "e2", "BackOff", "Warning", 5)
    _event(api, namespace, {**involved, "name": "other", "uid": "x"}, "e3", "Pulled", "Normal", 1)
    _, data, _ = server.call("k8s_get_events", context=ctx, namespace=namespace)
    assert [e["reason"] for e in data["items"]] == ["Pulled", "BackOff", "Scheduled"]
    _, data, _ = server.call("k8s_get_events", context=ctx, namespace=namespace, object="pod/web-1")
    assert [e["reason"] for e in data["items"]] == ["BackOff", "Scheduled"]
    _, data, _ = server.call("k8s_get_events", context=ctx, namespace=namespace, type="Warning")
    assert [e["object"] for e in data["items"]] == ["Pod/web-1"]
    body, data, _ = server.call("k8s_get_events", context=ctx, namespace=namespace, reason="backoff", limit=1)
    assert data["total"] == 1 and "BackOff happened" in body
    body, data, _ = server.call("k8s_get_events", context=ctx, namespace=namespace, limit=1)
    assert data["shown"] == 1 and body.splitlines()[-1].startswith("… 2 more not shown")
    body, data, _ = server.call(
        "k8s_describe", resource_type="po", name="web-1", namespace=namespace, context=ctx
    )
    events = body.split("Events:", 1)[1]
    assert events.index("BackOff") < events.index("Scheduled") and "Pulled" not in events
    assert [e["reason"] for e in data["objects"][0]["events"]] == ["BackOff", "Scheduled"]


def test_rollout_status_and_history(server: Server, fleet: Fleet, namespace: str) -> None:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    seed.create_deployment(api, namespace, "shop", replicas=3, ready=1)
    apps = AppsV1Api(api)
    deployment = apps.read_namespaced_deployment("shop", namespace)
    patched = apps.patch_namespaced_deployment(
        "shop", namespace, {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "2"}}}
    )
    # The deployment controller would observe the new generation; there is none here.
    apps.patch_namespaced_deployment_status(
        "shop", namespace, {"status": {"observedGeneration": patched.metadata.generation}}
    )
    for revision, image, cause in (
        (1, "shop:1.0", None),
        (2, "shop:1.1", "kubectl set image deploy/shop shop=shop:1.1"),
    ):
        annotations = {"deployment.kubernetes.io/revision": str(revision)}
        if cause:
            annotations["kubernetes.io/change-cause"] = cause
        apps.create_namespaced_replica_set(
            namespace,
            {"metadata": {"name": f"shop-{revision}", "labels": {"app": "shop"}, "annotations": annotations,
                          "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop",
                                               "uid": deployment.metadata.uid, "controller": True}]},
             "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "shop"}},
                      "template": {"metadata": {"labels": {"app": "shop"}}, "spec": {"containers": [{"name": "shop", "image": image}]}}}},
        )  # fmt: skip
    body, data, _ = server.call(
        "k8s_rollout_status", resource_type="deployment", name="shop", namespace=namespace, context=ctx
    )
    assert data["items"] == [{"context": ctx, "namespace": namespace, "name": "shop", "kind": "Deployment", "done": False,
                              "message": 'Waiting for deployment "shop" rollout to finish: 1 of 3 updated replicas are available...'}]  # fmt: skip
    apps.patch_namespaced_deployment_status(
        "shop", namespace, {"status": {"readyReplicas": 3, "availableReplicas": 3}}
    )
    _, data, _ = server.call(
        "k8s_rollout_status", resource_type="deploy", name="shop", namespace=namespace, context=ctx
    )
    assert (
        data["items"][0]["done"]
        and data["items"][0]["message"] == 'deployment "shop" successfully rolled out'
    )
    body, data, _ = server.call(
        "k8s_rollout_history", resource_type="deployments", name="shop", namespace=namespace, context=ctx
    )
    assert [(i["revision"], i["current"], i.get("change_cause"), i["images"]) for i in data["items"]] == [
        (1, False, None, ["shop:1.0"]),
        (2, True, "kubectl set image deploy/shop shop=shop:1.1", ["shop:1.1"]),
    ]
    assert "2 (current)" in body
    message = server.error(
        "k8s_rollout_status", resource_type="configmap", name="x", namespace=namespace, context=ctx
    )
    assert message in (f"configmap 'x' not found in namespace '{namespace}' in: {ctx}",
                       "'configmap' has no rollouts; use deployment, daemonset or statefulset")  # fmt: skip


def test_logs_and_top_say_in_one_line_why_the_cluster_cannot_serve_them(
    server: Server, fleet: Fleet, namespace: str
) -> None:
    ctx = fleet.contexts[0]
    seed.create_node(fleet.admin(ctx), f"{namespace}-node")
    seed.create_pod(fleet.admin(ctx), namespace, "api-1", node=f"{namespace}-node")
    body, _, is_error = server.call("k8s_get_pod_logs", namespace=namespace, pod="api-1", context=ctx)
    assert is_error
    why = body.splitlines()[1]
    assert why.startswith(f"  {ctx}: error — the cluster cannot serve logs of pod {namespace}/api-1:"), body
    assert len(body.splitlines()) == 2
    for tool in ("k8s_top_nodes", "k8s_top_pods"):
        body, _, is_error = server.call(tool, context=ctx)
        assert is_error
        assert body.splitlines()[1] == (
            f"  {ctx}: error — the metrics API (metrics.k8s.io) is not served by this cluster: "
            "metrics-server is not installed"
        )


def test_diagnose_application(server: Server, fleet: Fleet, namespace: str) -> None:
    ctx = fleet.contexts[0]
    api = fleet.admin(ctx)
    seed.create_deployment(api, namespace, "cart", replicas=3, ready=1)
    seed.create_node(api, f"{namespace}-n1")
    for i, preset in enumerate(("running", "crashloop", "crashloop")):
        seed.create_pod(
            api,
            namespace,
            f"cart-{i}",
            labels={"app": "cart"},
            node=f"{namespace}-n1",
            owner=("ReplicaSet", "cart-1"),
        )
        seed.set_pod_status(api, namespace, f"cart-{i}", preset)
    pod = CoreV1Api(api).read_namespaced_pod("cart-1", namespace)
    _event(
        api,
        namespace,
        {"kind": "Pod", "name": "cart-1", "namespace": namespace, "uid": pod.metadata.uid},
        "ev",
        "BackOff",
        "Warning",
        1,
    )
    body, data, is_error = server.call(
        "k8s_diagnose_application", namespace=namespace, app_name="cart", context=ctx
    )
    assert not is_error
    assert data["pods_total"] == 3
    assert sorted(f["name"] for f in data["failing"]) == ["cart-1", "cart-2"]
    assert data["findings"][:2] == [
        'rollout not complete: Waiting for deployment "cart" rollout to finish: 1 of 3 updated replicas are available...',
        "2 of 3 pods failing: CrashLoopBackOff (2)",
    ]
    assert "warning events: BackOff on Pod/cart-1" in data["findings"][2]
    assert [log["text"].startswith("no logs:") for log in data["logs"]] == [True, True]
    assert "Findings:" in body and "CrashLoopBackOff" in body


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("k8s_get_resources", {"kind": "gadgets"}, "'gadgets' is not a served kind"),
        (
            "k8s_get_resource",
            {"kind": "configmap", "name": "nope", "namespace": "default"},
            "configmap 'nope' not found in namespace 'default'",
        ),
        ("k8s_describe", {"resource_type": "secret", "name": "../x"}, "invalid object name '../x'"),
        (
            "k8s_get_pod_logs",
            {"namespace": "default", "pod": "p", "tail": 0},
            "tail must be between 1 and 5000, got 0",
        ),
        (
            "k8s_get_pod_logs",
            {"namespace": "default", "pod": "p", "since": "yesterday"},
            "invalid since 'yesterday'",
        ),
        (
            "k8s_get_pod_logs",
            {"namespace": "default", "pod": "p", "sinceDuration": "yesterday"},
            "invalid since 'yesterday'",
        ),
        (
            "k8s_get_pod_logs",
            {"namespace": "default", "pod": "p", "context": "cp-*"},
            "k8s_get_pod_logs works on one context",
        ),
        (
            "k8s_get_resource",
            {"kind": "pod", "name": "x", "output": "xml"},
            "invalid argument 'output': got 'xml'",
        ),
        (
            "k8s_rollout_history",
            {"resource_type": "svc", "name": "kubernetes", "namespace": "default"},
            "'svc' has no rollouts",
        ),
        ("k8s_top_pods", {"sort_by": "disk"}, "invalid argument 'sort_by'"),
        ("k8s_get_events", {"type": "Error"}, "invalid argument 'type'"),
    ],
)
def test_bad_input_is_one_line_and_the_server_keeps_serving(
    server: Server, fleet: Fleet, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    context = {"context": fleet.contexts[0]} if "context" not in arguments else {}
    assert expected in server.error(tool, **context, **arguments)
    _, data, is_error = server.call("k8s_get_namespaces", context=fleet.contexts[0])
    assert not is_error and data["total"] >= 1


def test_forbidden_is_reported_per_cluster(server: Server, fleet: Fleet) -> None:
    viewer = fleet.viewer(fleet.contexts[0])
    for tool, arguments in (
        ("k8s_list_secret", {}),
        ("k8s_get_clusterroles", {}),
        ("k8s_get_secret_detail", {"name": "x", "namespace": "team-a"}),
    ):
        body, data, is_error = server.call(tool, context=viewer, **arguments)
        assert is_error, tool
        assert data["clusters"][0]["status"] == "forbidden"
        assert body.splitlines()[1].startswith(f'  {viewer}: forbidden — User "viewer" cannot')
    body, data, is_error = server.call("k8s_get_resources", kind="deployments.v1.apps", context=viewer)
    assert not is_error and data["clusters"][0]["note"].startswith("namespace team-a only")
