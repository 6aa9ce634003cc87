"""The clusters integration tests run against: the local control plane (default) or kind.

Both give the same `Fleet`: a directory of kubeconfig files with admin contexts and a restricted
viewer context per cluster, admin API clients, and a way to stop and start one cluster.
Choose with `--backend controlplane|kind` or `K8S_MCP_TEST_BACKEND`.

`RealFleet` is the local control plane with real nodes (kubelet, containerd, controllers), for
what only a kubelet can show; it needs root (see integration/README.md).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from kubernetes.client import ApiClient, AppsV1Api, Configuration, CoreV1Api
from kubernetes.config.kube_config import KubeConfigLoader

from integration import controlplane
from integration.controlplane.build import kubectl_path

VIEWER_NAMESPACE = controlplane.VIEWER_NAMESPACE


class Fleet(Protocol):
    kubeconfig_dir: Path
    contexts: list[str]
    """Admin context of each cluster, in order."""

    def viewer(self, context: str) -> str: ...
    def admin(self, context: str) -> ApiClient: ...
    def stop(self, context: str) -> None: ...
    def start(self, context: str) -> None: ...
    def close(self) -> None: ...


def client_for(kubeconfig: Path, context: str) -> ApiClient:
    configuration = type.__call__(Configuration)
    loader = KubeConfigLoader(
        config_dict=yaml.safe_load(kubeconfig.read_text()),
        config_base_path=str(kubeconfig.parent),
        active_context=context,
    )
    loader.load_and_set(configuration)
    return ApiClient(configuration)


class _Clients:
    """What both backends share: one kubeconfig file per cluster, named after its admin context."""

    kubeconfig_dir: Path
    _clients: dict[str, ApiClient]

    def viewer(self, context: str) -> str:
        return f"{context}-viewer"

    def admin(self, context: str) -> ApiClient:
        if context not in self._clients:
            self._clients[context] = client_for(self.kubeconfig_dir / f"{context}.yaml", context)
        return self._clients[context]

    def _close_clients(self) -> None:
        for client in self._clients.values():
            client.close()


@dataclass
class ControlPlaneFleet(_Clients):
    """etcd + N kube-apiservers built from the Kubernetes Go modules, on loopback."""

    workdir: Path
    clusters: int = 3
    contexts: list[str] = field(default_factory=list)
    kubeconfig_dir: Path = field(init=False)
    _clients: dict[str, ApiClient] = field(default_factory=dict)
    nodes: int = 0
    """Real nodes per cluster (0: API servers only, as the `fleet` fixture has)."""

    def __post_init__(self) -> None:
        state = controlplane.up(self.workdir, self.clusters, self.nodes)
        self.kubeconfig_dir = Path(state.workdir) / "kubeconfigs"
        self.contexts = [c.admin_context for c in state.clusters]

    def stop(self, context: str) -> None:
        controlplane.stop(self.workdir, context)

    def start(self, context: str) -> None:
        controlplane.start(self.workdir, context)

    def close(self) -> None:
        self._close_clients()
        controlplane.down(self.workdir)

    def _etcd(self, call: str, body: dict[str, object]) -> dict[str, Any]:
        """One call of etcd's JSON gateway (the v3 API over HTTP) on the fleet's etcd."""
        url = f"http://127.0.0.1:{controlplane.load(self.workdir).etcd_port}/v3/{call}"
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return dict(json.load(answer))

    def delete_behind_the_server(self, context: str, resource: str, namespace: str, name: str) -> None:
        """Delete an object straight from etcd (while its API server is down, say)."""
        key = f"/{context}/{resource}/{namespace}/{name}".encode()
        deleted = self._etcd("kv/deleterange", {"key": base64.b64encode(key).decode()})
        assert deleted.get("deleted") == "1", deleted

    def compact(self) -> None:
        """Compact etcd to its current revision: every older resourceVersion is gone."""
        revision = self._etcd("kv/range", {"key": base64.b64encode(b"\0").decode(), "limit": 1})["header"][
            "revision"
        ]
        self._etcd("kv/compaction", {"revision": int(revision), "physical": True})


@dataclass
class RealFleet(ControlPlaneFleet):
    """Clusters with a controller manager, a scheduler and real nodes: pods really run (the test
    images, `controlplane.WORKLOAD_IMAGE`), crash, get logs and exec. Start it with `nodes=M`."""

    nodes: int = 1

    def core(self, context: str) -> CoreV1Api:
        return CoreV1Api(self.admin(context))

    def apps(self, context: str) -> AppsV1Api:
        return AppsV1Api(self.admin(context))

    def node_names(self, context: str) -> list[str]:
        """Names of the cluster's real nodes (`cp-N-node-M`)."""
        return [n.name for n in controlplane.load(self.workdir).cluster(context).nodes]

    def stop_node(self, node: str) -> None:
        """Stop a node's kubelet; its containers keep running, the node goes NotReady (~50 s)."""
        controlplane.stop(self.workdir, node)

    def start_node(self, node: str) -> None:
        controlplane.start(self.workdir, node)

    def kubectl(self, context: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run kubectl against a cluster (its discovery cache kept in the workdir); never raises on
        a non-zero exit: check `returncode`."""
        binary = kubectl_path()
        if binary is None:
            raise RuntimeError("no kubectl on PATH or in the control-plane cache (build --nodes makes one)")
        return subprocess.run(
            [
                binary,
                f"--kubeconfig={self.kubeconfig_dir / f'{context}.yaml'}",
                f"--context={context}",
                f"--cache-dir={self.workdir / 'kubectl-cache'}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "KUBECONFIG": ""},
        )


def docker_available() -> tuple[bool, str]:
    docker = shutil.which("docker")
    if docker is None:
        return False, "docker is not installed"
    done = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        return (
            False,
            f"no Docker daemon: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'docker info failed'}",
        )
    return True, ""


@dataclass
class KindFleet(_Clients):
    """N kind clusters created through pytest-kind (needs Docker)."""

    clusters: int = 3
    contexts: list[str] = field(default_factory=list)
    kubeconfig_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="k8s-mcp-kind-")))
    _kind: dict[str, object] = field(default_factory=dict)
    _clients: dict[str, ApiClient] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from pytest_kind import KindCluster

        for index in range(1, self.clusters + 1):
            name = f"k8s-mcp-{index}"
            kubeconfig = self.kubeconfig_dir / f"{name}.yaml"
            cluster = KindCluster(name, kubeconfig)
            cluster.create()
            self._kind[name] = cluster
            self._rename_context(kubeconfig, f"kind-{name}", name)
            self.contexts.append(name)
            self._add_viewer(name, kubeconfig)

    @staticmethod
    def _rename_context(kubeconfig: Path, old: str, new: str) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        for ctx in config["contexts"]:
            if ctx["name"] == old:
                ctx["name"] = new
        config["current-context"] = new
        kubeconfig.write_text(yaml.safe_dump(config))

    def _add_viewer(self, context: str, kubeconfig: Path) -> None:
        """A ServiceAccount with the same rights as the control plane's viewer, as a second context."""
        from kubernetes.client import CoreV1Api, RbacAuthorizationV1Api

        api = self.admin(context)
        core, rbac = CoreV1Api(api), RbacAuthorizationV1Api(api)
        core.create_namespace({"metadata": {"name": VIEWER_NAMESPACE}})
        core.create_namespaced_service_account(VIEWER_NAMESPACE, {"metadata": {"name": "viewer"}})
        rbac.create_namespaced_role(
            VIEWER_NAMESPACE,
            {
                "metadata": {"name": "viewer"},
                "rules": [
                    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
                ],
            },
        )
        rbac.create_namespaced_role_binding(
            VIEWER_NAMESPACE,
            {
                "metadata": {"name": "viewer"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "viewer"},
                "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": VIEWER_NAMESPACE}],
            },
        )
        token = core.create_namespaced_service_account_token(
            "viewer", VIEWER_NAMESPACE, {"spec": {"expirationSeconds": 7200}}
        ).status.token
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["contexts"][0]["context"]["cluster"]
        config["users"].append({"name": f"{context}-viewer", "user": {"token": token}})
        config["contexts"].append(
            {
                "name": self.viewer(context),
                "context": {"cluster": cluster, "user": f"{context}-viewer", "namespace": VIEWER_NAMESPACE},
            }
        )
        kubeconfig.write_text(yaml.safe_dump(config))
        viewer = CoreV1Api(client_for(kubeconfig, self.viewer(context)))
        deadline = time.monotonic() + 30
        while True:  # RBAC sees the new RoleBinding a moment after it is created
            try:
                viewer.list_namespaced_pod(VIEWER_NAMESPACE, limit=1)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self, context: str) -> None:
        subprocess.run(["docker", "stop", f"{context}-control-plane"], check=True, capture_output=True)

    def start(self, context: str) -> None:
        from kubernetes.client import VersionApi

        subprocess.run(["docker", "start", f"{context}-control-plane"], check=True, capture_output=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                VersionApi(self.admin(context)).get_code(_request_timeout=2)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def close(self) -> None:
        self._close_clients()
        for cluster in self._kind.values():
            cluster.delete()  # type: ignore[attr-defined]
