"""Run one etcd and N kube-apiservers on loopback, and write a kubeconfig per cluster.

Each cluster `cp-N` is a real kube-apiserver with its own etcd prefix, TLS serving certificate
(signed by a per-fleet CA), service-account keys, token authentication and RBAC. Its kubeconfig
has two contexts: `cp-N` (admin, group system:masters) and `cp-N-viewer` (may get/list/watch pods
and deployments in namespace `team-a` only; may not list nodes or secrets).

With `nodes`, every cluster also gets a kube-controller-manager, a kube-scheduler and real nodes
(kubelet + containerd; see nodes.py); without, nothing runs but etcd and the API servers.

The fleet's state lives in `WORKDIR/state.json`, so `stop`, `start`, `status` and `down` work from
another process than the one that ran `up`.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import secrets
import shutil
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from integration.controlplane import nodes as _nodes
from integration.controlplane.build import Binaries, build
from integration.controlplane.nodes import NodeState, ProcessState
from integration.controlplane.process import alive as _alive
from integration.controlplane.process import free_port as _free_port
from integration.controlplane.process import spawn as _spawn
from integration.controlplane.process import terminate as _terminate

VIEWER_NAMESPACE = "team-a"
READY_TIMEOUT = 120.0
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  # Probes and lease renewals (controllers, kubelets) would be most of the log, and say nothing.
  - level: None
    nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version"]
  - level: None
    resources: [{group: coordination.k8s.io, resources: [leases]}]
  - level: Metadata
"""
"""Every request at Metadata level (who, as whom, verb, object, response code; no bodies)."""


def audit_log(workdir: Path, name: str) -> Path:
    """Where cluster `name`'s API server writes its audit log: one JSON event per line."""
    return workdir / "logs" / f"audit-{name}.log"


@dataclass
class ClusterState:
    name: str
    port: int
    pid: int | None
    kubeconfig: str
    admin_context: str
    viewer_context: str
    args: list[str] = field(default_factory=list)
    controllers: list[ProcessState] = field(default_factory=list)
    nodes: list[NodeState] = field(default_factory=list)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "name": self.name,
            "server": self.server,
            "pid": self.pid,
            "running": _alive(self.pid),
            "kubeconfig": self.kubeconfig,
            "contexts": [self.admin_context, self.viewer_context],
        }
        if self.nodes or self.controllers:
            for process in self.controllers:
                described[process.name] = {
                    "pid": process.pid,
                    "port": process.port,
                    "running": _alive(process.pid),
                }
            described["nodes"] = [node.describe() for node in self.nodes]
        return described


@dataclass
class FleetState:
    workdir: str
    etcd_pid: int | None
    etcd_port: int
    admin_token: str
    viewer_token: str
    clusters: list[ClusterState]
    etcd_args: list[str] = field(default_factory=list)
    nodes_per_cluster: int = 0
    holder_pid: int | None = None
    """The process keeping the API servers' mount namespace (fleets with nodes only)."""
    host: dict[str, Any] = field(default_factory=dict)
    """What `down` restores on the machine (fleets with nodes only): see nodes.record_host."""

    def cluster(self, name: str) -> ClusterState:
        for c in self.clusters:
            if c.name == name or c.admin_context == name:
                return c
        raise KeyError(f"no cluster {name!r}; clusters: {', '.join(c.name for c in self.clusters)}")

    def node(self, name: str) -> NodeState | None:
        for c in self.clusters:
            for node in c.nodes:
                if node.name == name:
                    return node
        return None

    @property
    def has_nodes(self) -> bool:
        return self.nodes_per_cluster > 0

    def describe(self) -> dict[str, Any]:
        return {
            "workdir": self.workdir,
            "kubeconfig_dir": str(Path(self.workdir) / "kubeconfigs"),
            "etcd": {"pid": self.etcd_pid, "port": self.etcd_port, "running": _alive(self.etcd_pid)},
            "clusters": [c.describe() for c in self.clusters],
        }


def _state_path(workdir: Path) -> Path:
    return workdir / "state.json"


def load(workdir: Path) -> FleetState:
    raw = json.loads(_state_path(workdir).read_text())
    clusters = []
    for c in raw["clusters"]:
        c["controllers"] = [ProcessState(**p) for p in c.get("controllers", [])]
        c["nodes"] = [NodeState(**n) for n in c.get("nodes", [])]
        clusters.append(ClusterState(**c))
    raw["clusters"] = clusters
    return FleetState(**raw)


def _save(state: FleetState) -> None:
    path = _state_path(Path(state.workdir))
    path.write_text(json.dumps(asdict(state), indent=2))


# -- certificates -----------------------------------------------------------------------------


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _make_certs(certs: Path) -> None:
    certs.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "k8s-multicluster-mcp test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes.default.svc"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (certs / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (certs / "serving.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (certs / "serving.key").write_bytes(_pem_key(key))
    (certs / "sa.key").write_bytes(_pem_key(sa_key))
    (certs / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


# -- processes --------------------------------------------------------------------------------


def _ssl_context(workdir: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(workdir / "certs" / "ca.crt"))


def _wait_ready(state: FleetState, cluster: ClusterState, timeout: float = READY_TIMEOUT) -> None:
    context = _ssl_context(Path(state.workdir))
    request = urllib.request.Request(
        f"{cluster.server}/readyz", headers={"Authorization": f"Bearer {state.admin_token}"}
    )
    deadline = time.monotonic() + timeout
    last = "not started"
    while time.monotonic() < deadline:
        if not _alive(cluster.pid):
            log = Path(state.workdir) / "logs" / f"{cluster.name}.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"kube-apiserver for {cluster.name} exited during start-up:\n{tail}")
        try:
            with urllib.request.urlopen(request, context=context, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.25)
    raise RuntimeError(f"kube-apiserver for {cluster.name} not ready after {timeout:.0f}s: {last}")


def _wait_etcd(port: int, pid: int | None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise RuntimeError("etcd exited during start-up")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if b"true" in response.read():
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError("etcd not healthy in time")


def _apiserver_args(binaries: Binaries, workdir: Path, name: str, port: int, etcd_port: int) -> list[str]:
    certs = workdir / "certs"
    return [
        str(binaries.kube_apiserver),
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        f"--etcd-prefix=/{name}",
        f"--secure-port={port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--tls-cert-file={certs / 'serving.crt'}",
        f"--tls-private-key-file={certs / 'serving.key'}",
        f"--token-auth-file={workdir / 'tokens.csv'}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={certs / 'sa.pub'}",
        f"--service-account-signing-key-file={certs / 'sa.key'}",
        "--service-cluster-ip-range=10.96.0.0/16",
        # Without a controller manager nothing creates the `default` ServiceAccount pods need
        # (fleets with nodes run one and turn this plugin back on, see `up`).
        "--disable-admission-plugins=ServiceAccount",
        "--endpoint-reconciler-type=none",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
        f"--cert-dir={workdir / 'certs' / name}",
        # Auditing, as a cluster would run it: tests read who a request acted as
        # (`impersonatedUser`). Blocking (the log backend's default): a line is written before
        # the response is sent. Bounded: at most 2 x 50 MB per cluster.
        f"--audit-policy-file={workdir / 'audit-policy.yaml'}",
        f"--audit-log-path={audit_log(workdir, name)}",
        "--audit-log-maxsize=50",
        "--audit-log-maxbackup=1",
    ]


def _wait_viewer_ready(state: FleetState, cluster: ClusterState, timeout: float = 30.0) -> None:
    """RBAC sees a new RoleBinding through an informer, a moment after it is created: wait for it,
    so that `up` returns a fleet whose viewer rights already hold."""
    context = _ssl_context(Path(state.workdir))
    request = urllib.request.Request(
        f"{cluster.server}/api/v1/namespaces/{VIEWER_NAMESPACE}/pods?limit=1",
        headers={"Authorization": f"Bearer {state.viewer_token}"},
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(request, context=context, timeout=5):
                return
        except urllib.error.HTTPError as exc:
            if exc.code != 403 or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def _write_kubeconfig(state: FleetState, cluster: ClusterState) -> None:
    ca = base64.b64encode((Path(state.workdir) / "certs" / "ca.crt").read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster.name, "cluster": {"server": cluster.server, "certificate-authority-data": ca}}
        ],
        "users": [
            {"name": f"{cluster.name}-admin", "user": {"token": state.admin_token}},
            {"name": f"{cluster.name}-viewer", "user": {"token": state.viewer_token}},
        ],
        "contexts": [
            {
                "name": cluster.admin_context,
                "context": {"cluster": cluster.name, "user": f"{cluster.name}-admin"},
            },
            {
                "name": cluster.viewer_context,
                "context": {
                    "cluster": cluster.name,
                    "user": f"{cluster.name}-viewer",
                    "namespace": VIEWER_NAMESPACE,
                },
            },
        ],
        "current-context": cluster.admin_context,
    }
    path = Path(cluster.kubeconfig)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def _bootstrap_rbac(state: FleetState, cluster: ClusterState) -> None:
    """Namespace team-a, and a Role letting the viewer read pods and deployments there only."""
    context = _ssl_context(Path(state.workdir))
    headers = {"Authorization": f"Bearer {state.admin_token}", "Content-Type": "application/json"}
    objects = [
        (
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": VIEWER_NAMESPACE}},
        ),
        (
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{VIEWER_NAMESPACE}/roles",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "viewer"},
                "rules": [
                    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
                ],
            },
        ),
        (
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{VIEWER_NAMESPACE}/rolebindings",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "viewer"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "viewer"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}],
            },
        ),
    ]
    for path, body in objects:
        request = urllib.request.Request(
            cluster.server + path, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=10):
                pass
        except urllib.error.HTTPError as exc:
            if exc.code != 409:  # already exists (a restarted cluster keeps its data)
                raise


# -- commands ---------------------------------------------------------------------------------


def _node_names(clusters: int, nodes: int) -> list[str]:
    return [f"cp-{c}-node-{n}" for c in range(1, clusters + 1) for n in range(1, nodes + 1)]


def _spawn_apiserver(state: FleetState, cluster: ClusterState) -> int:
    """Start a cluster's API server; with nodes, inside the mount namespace where node names
    resolve to 127.0.0.1 (a new one if its holder is gone)."""
    prefix: list[str] = []
    if state.has_nodes:
        if not _alive(state.holder_pid):
            state.holder_pid = _nodes.start_holder(
                Path(state.workdir), _node_names(len(state.clusters), state.nodes_per_cluster)
            )
            _save(state)
        assert state.holder_pid is not None
        prefix = _nodes.holder_prefix(state.holder_pid)
    return _spawn([*prefix, *cluster.args], Path(state.workdir) / "logs" / f"{cluster.name}.log")


def up(workdir: Path, clusters: int = 3, nodes: int = 0) -> FleetState:
    """Start etcd and `clusters` API servers (and, with `nodes`, controllers and that many real nodes
    per cluster); return (and save) the fleet's state."""
    workdir = workdir.resolve()
    if _state_path(workdir).exists():
        down(workdir)
    if nodes:
        problem = _nodes.host_problem() or _nodes.socket_path_problem(workdir, _node_names(clusters, nodes))
        if problem:
            raise RuntimeError(f"cannot run real nodes here: {problem}")
    binaries = build(nodes=nodes > 0)
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in ("etcd", "kubeconfigs", "certs", "nodes", "controllers"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    _make_certs(workdir / "certs")
    (workdir / "audit-policy.yaml").write_text(AUDIT_POLICY)
    admin_token, viewer_token = secrets.token_hex(16), secrets.token_hex(16)
    (workdir / "tokens.csv").write_text(
        f'{admin_token},admin,admin,"system:masters"\n{viewer_token},viewer,viewer,"viewers"\n'
    )
    etcd_port, peer_port = _free_port(), _free_port()
    etcd_args = [
        str(binaries.etcd),
        f"--data-dir={workdir / 'etcd'}",
        "--name=default",
        f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
        f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
        f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
        f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]
    state = FleetState(
        workdir=str(workdir),
        etcd_pid=None,
        etcd_port=etcd_port,
        admin_token=admin_token,
        viewer_token=viewer_token,
        clusters=[],
        etcd_args=etcd_args,
        nodes_per_cluster=nodes,
    )
    state.etcd_pid = _spawn(etcd_args, workdir / "logs" / "etcd.log")
    _save(state)
    try:
        _wait_etcd(etcd_port, state.etcd_pid)
        if nodes:
            state.host = _nodes.record_host()
            state.holder_pid = _nodes.start_holder(workdir, _node_names(clusters, nodes))
            _save(state)
        for index in range(1, clusters + 1):
            name, port = f"cp-{index}", _free_port()
            args = _apiserver_args(binaries, workdir, name, port, etcd_port)
            if nodes:
                # A controller manager runs: it creates every namespace's `default` ServiceAccount
                # and publishes kube-root-ca.crt, so pods get their service account token mounted
                # as on any cluster (the server's own pod needs it for its in-cluster identity).
                args.remove("--disable-admission-plugins=ServiceAccount")
                args += [
                    # Reach kubelets by node name only (127.0.0.1 in the holder's hosts file),
                    # never by the machine's address they publish as InternalIP.
                    "--kubelet-preferred-address-types=Hostname",
                    # End the watches of kubelets and controllers at SIGTERM: without it a stop
                    # waits 60 s for them (and `stop` kills the server after 15 s).
                    "--shutdown-watch-termination-grace-period=2s",
                ]
            cluster = ClusterState(
                name=name,
                port=port,
                pid=None,
                kubeconfig=str(workdir / "kubeconfigs" / f"{name}.yaml"),
                admin_context=name,
                viewer_context=f"{name}-viewer",
                args=args,
            )
            state.clusters.append(cluster)
            cluster.pid = _spawn_apiserver(state, cluster)
            _save(state)
        for cluster in state.clusters:
            _wait_ready(state, cluster)
            _bootstrap_rbac(state, cluster)
            _wait_viewer_ready(state, cluster)
            _write_kubeconfig(state, cluster)
        if nodes:
            _nodes.attach(state, binaries, nodes, lambda: _save(state))
            _save(state)
    except BaseException:
        _save(state)
        down(workdir)
        raise
    return state


def stop(workdir: Path, name: str) -> ClusterState:
    """Stop one cluster's API server (its port then refuses connections; its data stays in etcd),
    or one node's kubelet (its containers keep running; the node goes NotReady after ~50 s)."""
    state = load(workdir)
    node = state.node(name)
    if node is not None:
        _terminate(node.kubelet_pid)
        node.kubelet_pid = None
        _save(state)
        return state.cluster(node.cluster)
    cluster = state.cluster(name)
    _terminate(cluster.pid)
    cluster.pid = None
    _save(state)
    return cluster


def start(workdir: Path, name: str) -> ClusterState:
    """Start a stopped cluster's API server again, on the same port, with the same data (or a
    stopped node's kubelet)."""
    state = load(workdir)
    node = state.node(name)
    if node is not None:
        _nodes.start_kubelet(state, node)
        _save(state)
        return state.cluster(node.cluster)
    cluster = state.cluster(name)
    if not _alive(cluster.pid):
        cluster.pid = _spawn_apiserver(state, cluster)
        _save(state)
    _wait_ready(state, cluster)
    return cluster


def down(workdir: Path) -> None:
    """Stop every process of the fleet; leave nothing running (and, with nodes, nothing of theirs
    on the machine: mounts, bridges, cgroups, files outside the workdir, changed kernel settings)."""
    try:
        state = load(workdir)
    except FileNotFoundError:
        return
    try:
        if state.has_nodes:
            _nodes.detach(state)
    finally:
        for cluster in state.clusters:
            _terminate(cluster.pid)
            cluster.pid = None
        _terminate(state.etcd_pid)
        state.etcd_pid = None
        _terminate(state.holder_pid)
        state.holder_pid = None
        _save(state)


def status(workdir: Path) -> dict[str, Any]:
    return load(workdir).describe()
