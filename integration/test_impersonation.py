"""Impersonation on a real API server (issue 20, design rule 3): with a caller acting with their
own Kubernetes identity (`caller.current`, what the token verifier sets under
--authorize-as-caller), live reads and writes are sent as that caller, so the cluster's RBAC
decides: an allowed read answers, a forbidden one names the caller, a write outside their rights
is refused by the cluster and changes nothing. The fleet's admin (system:masters) may impersonate.
The server is driven in process: ObjectReader and ObjectWriter as the tools use them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import CoreV1Api, RbacAuthorizationV1Api

from integration import seed
from integration.backends import Fleet, RealFleet
from integration.real_nodes_mcp import container, pod, wait_for
from k8s_multicluster_mcp.common.caller import Caller
from k8s_multicluster_mcp.kube import impersonation
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.model.redact import Redactor
from k8s_multicluster_mcp.query.access import Access
from k8s_multicluster_mcp.query.objects import ObjectReader
from k8s_multicluster_mcp.sources.live import LiveSource
from k8s_multicluster_mcp.writes import objects as writes
from k8s_multicluster_mcp.writes.exec import pod_exec
from k8s_multicluster_mcp.writes.writer import ObjectWriter

ALICE = Caller(sub="id-alice", email="alice@example.com", user="alice@example.com")
ALICE_IN_TEAM = Caller(sub="id-alice", groups=("team-a",), user="alice@example.com")


@pytest.fixture(scope="module")
def services(fleet: Fleet) -> Iterator[tuple[ObjectReader, ObjectWriter]]:
    registry = ContextRegistry(directory=fleet.kubeconfig_dir)
    fanout = Fanout(timeout=5)
    reader = ObjectReader(registry, fanout, Redactor())
    yield reader, ObjectWriter(reader, fanout, Redactor())
    fanout.close()


def grant(
    fleet: Fleet | RealFleet,
    context: str,
    namespace: str,
    name: str,
    resources: list[str],
    subject: dict[str, str],
    verbs: tuple[str, ...] = ("get", "list"),
) -> None:
    """A Role that may `verbs` (get and list) `resources` in `namespace`, bound to `subject`."""
    rbac = RbacAuthorizationV1Api(fleet.admin(context))
    rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": name},
            "rules": [{"apiGroups": [""], "resources": resources, "verbs": list(verbs)}],
        },
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", **subject}],
        },
    )


def alice_reads_configmaps(fleet: Fleet, context: str, namespace: str) -> None:
    """The configmap `settings` in `namespace`, which alice (by user name) may get and list."""
    seed.create_configmap(fleet.admin(context), namespace, "settings", {"mode": "blue"})
    grant(
        fleet,
        context,
        namespace,
        "alice-configmaps",
        ["configmaps"],
        {"kind": "User", "name": ALICE.user or ""},
    )


def test_live_reads_and_writes_apply_the_callers_rbac(
    services: tuple[ObjectReader, ObjectWriter], fleet: Fleet, namespace: str
) -> None:
    reader, writer = services
    context = fleet.contexts[0]
    alice_reads_configmaps(fleet, context, namespace)
    seed.create_secret(fleet.admin(context), namespace, "token", {"key": "s3cret"})
    grant(fleet, context, namespace, "team-a-secrets", ["secrets"], {"kind": "Group", "name": "team-a"})

    with impersonation.acting_as(ALICE):
        allowed = reader.table("configmaps", context, namespace)
        denied = reader.table("secrets", context, namespace)
        cluster_wide = reader.table("configmaps", context)
    assert [r.name for r in allowed.rows if r.name == "settings"] == ["settings"], allowed.clusters
    assert [(r.status, r.error) for r in denied.clusters] == [
        ("forbidden", f"forbidden for alice@example.com: cannot list secrets in namespace {namespace}")
    ]
    assert [(r.status, r.error) for r in cluster_wide.clusters] == [
        ("forbidden", "forbidden for alice@example.com: cannot list configmaps at the cluster scope")
    ], "alice may list configmaps in one namespace only: the cluster said so, not the server's admin"

    with impersonation.acting_as(ALICE_IN_TEAM):
        by_group = reader.get("secrets", "token", context, namespace)
    assert [f.object["metadata"]["name"] for f in by_group.items] == ["token"], "the group header was sent"

    with impersonation.acting_as(None):
        as_server = reader.table("secrets", context, namespace)
    assert [r.status for r in as_server.clusters] == ["ok"], "without a caller: the server's own identity"

    with impersonation.acting_as(ALICE):
        refused = writes.create_configmap(
            writer, context, "intruder", namespace, {"a": "b"}, None, dry_run=False
        )
    assert (refused.report.status, refused.report.error) == (
        "forbidden",
        f"forbidden for alice@example.com: cannot create configmaps in namespace {namespace}",
    )
    names = [
        c.metadata.name for c in CoreV1Api(fleet.admin(context)).list_namespaced_config_map(namespace).items
    ]
    assert "intruder" not in names, "the cluster refused the write: nothing was created"


def test_a_server_identity_that_may_not_impersonate_says_so_not_that_the_caller_is_forbidden(
    services: tuple[ObjectReader, ObjectWriter], fleet: Fleet, namespace: str
) -> None:
    reader, _ = services
    viewer = fleet.viewer(fleet.contexts[0])  # may list pods, may not impersonate
    with impersonation.acting_as(ALICE):
        answer = reader.table("configmaps", viewer, namespace)
    [report] = answer.clusters
    assert report.status == "forbidden"
    assert (report.error or "").startswith(
        "the server's identity may not act as alice@example.com (it needs impersonate on users and groups): "
        'User "viewer" cannot impersonate'
    ), report.error


def test_a_live_read_forbidden_cluster_wide_narrows_to_the_namespaces_the_caller_may_list(
    fleet: Fleet, namespace: str
) -> None:
    """The reader's `namespaces_for` hook with the Access service (SubjectAccessReviews, asked as
    the server) as the composition root wires it under --authorize-as-caller."""
    context = fleet.contexts[0]
    alice_reads_configmaps(fleet, context, namespace)
    registry = ContextRegistry(directory=fleet.kubeconfig_dir)
    fanout = Fanout(timeout=5)
    try:
        access = Access(registry, fanout, LiveSource(registry, fanout=fanout), ttl=10)
        reader = ObjectReader(registry, fanout, Redactor(), namespaces_for=access.namespaces_for)
        with impersonation.acting_as(ALICE):
            answer = reader.table("configmaps", context)
    finally:
        fanout.close()
    [report] = answer.clusters
    assert report.status == "ok", report.error
    # Earlier tests' namespaces (still terminating) may hold alice's grants too: each is read.
    assert ("settings", namespace) in {(r.name, r.namespace) for r in answer.rows}
    assert namespace in (report.note or "") and " only: " in (report.note or ""), report.note


def test_exec_on_a_real_node_acts_as_the_caller(real_fleet: RealFleet, real_namespace: str) -> None:
    """The exec websocket's handshake carries the caller's headers: refused by the cluster until
    alice may exec, then the command runs (a real kubelet and container)."""
    ctx, ns = real_fleet.contexts[0], real_namespace
    core = real_fleet.core(ctx)
    core.create_namespaced_pod(ns, pod("box", container()))
    wait_for(
        "box running",
        lambda: any(
            s.state.running for s in core.read_namespaced_pod("box", ns).status.container_statuses or ()
        ),
    )
    grant(real_fleet, ctx, ns, "alice-pods", ["pods"], {"kind": "User", "name": ALICE.user or ""})
    registry = ContextRegistry(directory=real_fleet.kubeconfig_dir)
    fanout = Fanout(timeout=10)
    writer = ObjectWriter(ObjectReader(registry, fanout, Redactor()), fanout, Redactor())
    argv = ["/workload", "echo", "as", "alice"]
    try:
        with impersonation.acting_as(ALICE):
            refused = pod_exec(writer, ctx, "box", argv, None, ns, False, 10)
        verbs = ("get", "create")
        grant(
            real_fleet,
            ctx,
            ns,
            "alice-exec",
            ["pods/exec"],
            {"kind": "User", "name": ALICE.user or ""},
            verbs,
        )
        with impersonation.acting_as(ALICE):
            ran = pod_exec(writer, ctx, "box", argv, None, ns, False, 10)
    finally:
        fanout.close()
    assert refused.report.status == "forbidden", refused.report
    assert (refused.report.error or "").startswith("forbidden for alice@example.com: cannot "), refused.report
    assert f"pods/exec in namespace {ns}" in (refused.report.error or ""), refused.report
    assert ran.report.status == "ok", ran.report
    assert ran.output == "as alice\n"


README = Path(__file__).resolve().parents[1] / "README.md"


def readme_role() -> list[dict[str, Any]]:
    """The ClusterRole and binding the README gives for the server's own identity."""
    section = README.read_text().split("##### The server's own identity", 1)[1]
    return list(yaml.safe_load_all(section.split("```yaml", 1)[1].split("```", 1)[0]))


def test_the_readmes_cluster_role_is_all_a_service_account_needs_to_act_as_a_caller(
    fleet: Fleet, namespace: str, tmp_path: Path
) -> None:
    """A ServiceAccount bound to exactly the README's ClusterRole (it may not read configmaps
    itself) reads what alice may read, as alice."""
    context = fleet.contexts[0]
    admin = fleet.admin(context)
    alice_reads_configmaps(fleet, context, namespace)
    role, binding = readme_role()
    name = f"mcp-impersonate-{namespace}"
    role["metadata"]["name"] = binding["metadata"]["name"] = binding["roleRef"]["name"] = name
    account = binding["subjects"][0]
    account["namespace"] = namespace
    core, rbac = CoreV1Api(admin), RbacAuthorizationV1Api(admin)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": account["name"]}})
    token = core.create_namespaced_service_account_token(
        account["name"], namespace, {"spec": {"expirationSeconds": 600}}
    ).status.token
    config = yaml.safe_load((fleet.kubeconfig_dir / f"{context}.yaml").read_text())
    cluster = next(c for c in config["clusters"] if c["name"] == config["contexts"][0]["context"]["cluster"])
    (tmp_path / "sa.yaml").write_text(
        yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "sa", "clusters": [cluster],
            "users": [{"name": "sa", "user": {"token": token}}],
            "contexts": [{"name": "sa", "context": {"cluster": cluster["name"], "user": "sa"}}],
        })
    )  # fmt: skip
    rbac.create_cluster_role(role)
    rbac.create_cluster_role_binding(binding)
    registry = ContextRegistry(directory=tmp_path)
    fanout = Fanout(timeout=5)
    try:
        reader = ObjectReader(registry, fanout, Redactor())
        with impersonation.acting_as(ALICE):
            as_alice = reader.table("configmaps", "sa", namespace)
        as_itself = reader.table("configmaps", "sa", namespace)
    finally:
        fanout.close()
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)
    assert [(r.status, r.error) for r in as_alice.clusters] == [("ok", None)]
    assert [r.name for r in as_alice.rows] == ["settings"]
    assert [r.status for r in as_itself.clusters] == ["forbidden"], "the account itself may not read them"
