"""Run one etcd and N kube-apiservers on loopback, and write a kubeconfig per cluster.

Each cluster `cp-N` is a real kube-apiserver with its own etcd prefix, TLS serving certificate
(signed by a per-fleet CA), service-account keys, token authentication and RBAC. Its kubeconfig
has two contexts: `cp-N` (admin, group system:masters) and `cp-N-viewer` (may get/list/watch pods
and deployments in namespace `team-a` only; may not list nodes or secrets).

The fleet's state lives in `WORKDIR/state.json`, so `stop`, `start`, `status` and `down` work from
another process than the one that ran `up`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
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

from integration.controlplane.build import Binaries, build

VIEWER_NAMESPACE = "team-a"
READY_TIMEOUT = 120.0


@dataclass
class ClusterState:
    name: str
    port: int
    pid: int | None
    kubeconfig: str
    admin_context: str
    viewer_context: str
    args: list[str] = field(default_factory=list)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"


@dataclass
class FleetState:
    workdir: str
    etcd_pid: int | None
    etcd_port: int
    admin_token: str
    viewer_token: str
    clusters: list[ClusterState]
    etcd_args: list[str] = field(default_factory=list)

    def cluster(self, name: str) -> ClusterState:
        for c in self.clusters:
            if c.name == name or c.admin_context == name:
                return c
        raise KeyError(f"no cluster {name!r}; clusters: {', '.join(c.name for c in self.clusters)}")

    def describe(self) -> dict[str, Any]:
        return {
            "workdir": self.workdir,
            "kubeconfig_dir": str(Path(self.workdir) / "kubeconfigs"),
            "etcd": {"pid": self.etcd_pid, "port": self.etcd_port, "running": _alive(self.etcd_pid)},
            "clusters": [
                {
                    "name": c.name,
                    "server": c.server,
                    "pid": c.pid,
                    "running": _alive(c.pid),
                    "kubeconfig": c.kubeconfig,
                    "contexts": [c.admin_context, c.viewer_context],
                }
                for c in self.clusters
            ],
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not running
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return True
    return status != "Z"


def _state_path(workdir: Path) -> Path:
    return workdir / "state.json"


def load(workdir: Path) -> FleetState:
    raw = json.loads(_state_path(workdir).read_text())
    raw["clusters"] = [ClusterState(**c) for c in raw["clusters"]]
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


def _spawn(args: list[str], log_file: Path) -> int:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    return proc.pid


def _terminate(pid: int | None, timeout: float = 15.0) -> None:
    if not _alive(pid):
        return
    assert pid is not None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


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
        # No controller manager runs, so nothing creates the `default` ServiceAccount pods need.
        "--disable-admission-plugins=ServiceAccount",
        "--endpoint-reconciler-type=none",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
        f"--cert-dir={workdir / 'certs' / name}",
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


def up(workdir: Path, clusters: int = 3) -> FleetState:
    """Start etcd and `clusters` API servers; return (and save) the fleet's state."""
    workdir = workdir.resolve()
    if _state_path(workdir).exists():
        down(workdir)
    binaries = build()
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in ("etcd", "kubeconfigs", "certs"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    _make_certs(workdir / "certs")
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
    )
    state.etcd_pid = _spawn(etcd_args, workdir / "logs" / "etcd.log")
    _save(state)
    _wait_etcd(etcd_port, state.etcd_pid)
    for index in range(1, clusters + 1):
        name, port = f"cp-{index}", _free_port()
        cluster = ClusterState(
            name=name,
            port=port,
            pid=None,
            kubeconfig=str(workdir / "kubeconfigs" / f"{name}.yaml"),
            admin_context=name,
            viewer_context=f"{name}-viewer",
            args=_apiserver_args(binaries, workdir, name, port, etcd_port),
        )
        cluster.pid = _spawn(cluster.args, workdir / "logs" / f"{name}.log")
        state.clusters.append(cluster)
        _save(state)
    try:
        for cluster in state.clusters:
            _wait_ready(state, cluster)
            _bootstrap_rbac(state, cluster)
            _wait_viewer_ready(state, cluster)
            _write_kubeconfig(state, cluster)
    except BaseException:
        down(workdir)
        raise
    return state


def stop(workdir: Path, name: str) -> ClusterState:
    """Stop one cluster's API server; its port then refuses connections. Its data stays in etcd."""
    state = load(workdir)
    cluster = state.cluster(name)
    _terminate(cluster.pid)
    cluster.pid = None
    _save(state)
    return cluster


def start(workdir: Path, name: str) -> ClusterState:
    """Start a stopped cluster's API server again, on the same port, with the same data."""
    state = load(workdir)
    cluster = state.cluster(name)
    if not _alive(cluster.pid):
        cluster.pid = _spawn(cluster.args, Path(state.workdir) / "logs" / f"{cluster.name}.log")
        _save(state)
    _wait_ready(state, cluster)
    return cluster


def down(workdir: Path) -> None:
    """Stop every process of the fleet; leave nothing running."""
    try:
        state = load(workdir)
    except FileNotFoundError:
        return
    for cluster in state.clusters:
        _terminate(cluster.pid)
        cluster.pid = None
    _terminate(state.etcd_pid)
    state.etcd_pid = None
    _save(state)


def status(workdir: Path) -> dict[str, Any]:
    return load(workdir).describe()
