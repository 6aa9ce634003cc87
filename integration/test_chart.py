"""The Helm chart (charts/k8s-multicluster-mcp): lint, render, a server-side dry run of every
rendered object on a real API server, and an install whose pod command runs as a process.

helm is built from its Go module (`integration.controlplane.build.build_helm`, pinned); kubectl is
the one on PATH or the control plane's (`python -m integration.controlplane build --nodes`). The
rendered flags are also parsed by the server's own CLI, so a flag the chart passes is a flag the
server accepts. The local control plane has no nodes: the pod itself runs in the real-node test.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
import yaml
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from integration.backends import Fleet
from integration.controlplane.build import build_helm, kubectl_path
from integration.controlplane.process import free_port
from integration.test_e2e_hardening import INITIALIZE
from integration.test_e2e_health import get
from integration.test_e2e_stdio import SCRIPT, server_env, text
from k8s_multicluster_mcp.cli import build_parser, settings_from

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "k8s-multicluster-mcp"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
ALL_OPTIONS = CHART / "ci" / "all-options-values.yaml"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
RELEASE = "mcp"

pytestmark = pytest.mark.controlplane

# Just enough of the Prometheus Operator's CRD for the API server to accept a ServiceMonitor.
SERVICE_MONITOR_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {"kind": "ServiceMonitor", "plural": "servicemonitors", "singular": "servicemonitor"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def helm() -> Path:
    try:
        return build_helm()
    except RuntimeError as exc:
        pytest.skip(f"helm could not be built from its Go module: {str(exc).splitlines()[0]}")


def run(command: list[str | Path], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def rendered_text(helm: Path, *args: str | Path, namespace: str = "default") -> str:
    done = run([helm, "template", RELEASE, CHART, "--namespace", namespace, *args])
    assert done.returncode == 0, done.stderr
    return done.stdout


def template(helm: Path, *args: str | Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendered_text(helm, *args)) if doc]


def with_values(values: Path | None) -> list[str]:
    return ["--values", str(values)] if values else []


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (server,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(server)


def refused(helm: Path, *args: str) -> str:
    """helm's error (stderr) for values it must refuse."""
    done = run([helm, "template", RELEASE, CHART, *args])
    assert done.returncode != 0, f"helm accepted {args}"
    return done.stderr


# --- lint and render --------------------------------------------------------------------------


def test_chart_app_version_is_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == VERSION


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda v: v.name if v else "defaults")
def test_helm_lint_strict(helm: Path, values: Path | None) -> None:
    for strict in ([], ["--strict"]):
        done = run([helm, "lint", CHART, *strict, *with_values(values)])
        assert done.returncode == 0, done.stdout + done.stderr


def test_default_deployment_is_a_read_only_watching_stateless_http_server(helm: Path) -> None:
    objects = template(helm)
    server = container(objects)
    args = server["args"]
    for flag in ("--watch", "--read-only", "--stateless", "--transport=http", "--host=0.0.0.0"):
        assert flag in args
    assert "--port=8000" in args and "--health-port=8081" in args
    assert "--auth-token-file=/etc/k8s-multicluster-mcp/auth/token" in args
    assert "--authorize-as-caller" not in args, "the server's own identity unless asked"
    assert server["image"] == f"k8s-multicluster-mcp:{VERSION}"
    assert server["imagePullPolicy"] == "IfNotPresent"
    probes = {name: server[name]["httpGet"] for name in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes == {
        "startupProbe": {"path": "/healthz", "port": "metrics"},
        "livenessProbe": {"path": "/healthz", "port": "metrics"},
        "readinessProbe": {"path": "/readyz", "port": "metrics"},
    }
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    grace = next(a for a in args if a.startswith("--shutdown-grace="))
    assert float(grace.split("=")[1]) < pod["terminationGracePeriodSeconds"]
    # No registry host in the default image, and the generated token is long enough.
    assert "/" not in server["image"].split(":")[0]
    secret = one(objects, "Secret")
    assert len(secret["data"]["token"]) >= 24  # base64 of >= 16 characters


def test_default_security_context_is_restricted(helm: Path) -> None:
    objects = template(helm)
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    server = container(objects)
    merged = {**pod["securityContext"], **server["securityContext"]}
    restricted = {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert {key: merged.get(key) for key in restricted} == restricted
    mounts = {m["mountPath"]: m["name"] for m in server["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert {"name": "HOME", "value": "/tmp"} in server["env"]
    assert "hostNetwork" not in pod


def test_default_objects_service_account_and_policies(helm: Path) -> None:
    objects = template(helm)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterRoleBinding",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "ServiceAccount",
    ]
    account = one(objects, "ServiceAccount")["metadata"]["name"]
    bindings = [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    role = one(objects, "ClusterRole")
    assert sorted(b["roleRef"]["name"] for b in bindings) == sorted(["view", role["metadata"]["name"]])
    assert all(b["subjects"][0]["name"] == account for b in bindings)
    # `view` has no node rule; node health is a fleet question, so reading nodes is on by default.
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]
    alone = template(helm, "--set", "rbac.readNodes=false")
    assert [o["roleRef"]["name"] for o in alone if o["kind"] == "ClusterRoleBinding"] == ["view"]
    assert not [o for o in alone if o["kind"] == "ClusterRole"]
    ports = {p["name"]: p["port"] for p in one(objects, "Service")["spec"]["ports"]}
    assert ports == {"mcp": 8000, "metrics": 8081}
    assert one(objects, "Service")["spec"]["type"] == "ClusterIP"


def test_every_option_renders_into_flags_env_and_objects(helm: Path) -> None:
    objects = template(helm, "--values", ALL_OPTIONS)
    server = container(objects)
    args = server["args"]
    assert "--read-only" not in args and "--disable-destructive" in args
    for flag in (
        "--oidc-issuer=https://login.example.com/realms/team",
        "--oidc-audience=https://mcp.example.com/mcp",
        "--oidc-scopes=mcp.read,mcp.write",
        "--public-url=https://mcp.example.com/mcp",
        "--kubeconfig-dir=/etc/k8s-multicluster-mcp/kubeconfigs",
        "--in-cluster-context=home",
        "--idle-ttl=0",
    ):
        assert flag in args
    hosts = next(a for a in args if a.startswith("--allowed-hosts=")).split("=", 1)[1].split(",")
    assert {"team-mcp.default.svc", "$(POD_IP)", "mcp.example.com"} <= set(hosts)
    env = {e["name"]: e for e in server["env"]}
    # Explicit env wins over what the kubelet injects: how a pod without kube-proxy reaches its API server.
    assert env["KUBERNETES_SERVICE_HOST"]["value"] == "10.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"]["value"] == "6443"
    assert env["K8S_MCP_REQUEST_TIMEOUT"]["value"] == "10"
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert sorted(o["kind"] for o in objects if o["kind"] in ("ClusterRole", "ServiceMonitor")) == [
        "ClusterRole",
        "ClusterRole",
        "ServiceMonitor",
    ]
    # authorizeAsCaller and rbac.impersonate: the flag, and a role that may impersonate and ask
    # SubjectAccessReviews, nothing else, bound to the server's account.
    assert "--authorize-as-caller" in args
    roles = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ClusterRole"}
    assert roles["team-mcp-impersonate"]["rules"] == [
        {"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
    ]
    binding = next(
        o
        for o in objects
        if o["kind"] == "ClusterRoleBinding" and o["roleRef"]["name"] == "team-mcp-impersonate"
    )
    assert binding["subjects"][0]["name"] == "team-mcp-reader"
    assert one(objects, "ServiceMonitor")["spec"]["endpoints"][0]["port"] == "metrics"


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda v: v.name if v else "defaults")
def test_the_server_accepts_the_flags_the_chart_passes(
    helm: Path, values: Path | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rendered args through the server's own parser and settings validation."""
    server = container(template(helm, *with_values(values)))
    token = tmp_path / "token"
    token.write_text("x" * 32)
    paths = {"/etc/k8s-multicluster-mcp/auth/token": str(token)}
    args = [a.replace("$(POD_IP)", "10.1.2.3") for a in server["args"]]
    args = [next((a.replace(k, v) for k, v in paths.items() if k in a), a) for a in args]
    settings, _ = settings_from(build_parser().parse_args(args), {})
    assert settings.watch and settings.stateless and settings.transport == "http"


# --- what the chart refuses ---------------------------------------------------------------------


def test_schema_rejects_bad_values_with_helms_error(helm: Path) -> None:
    error = refused(helm, "--set", "replicaCount=two")
    assert "values don't meet the specifications of the schema" in error
    assert "replicaCount" in error and "integer" in error
    assert "replicas" in refused(helm, "--set", "replicas=2")  # unknown keys are errors
    assert "toolsets" in refused(helm, "--set", "toolsets={everything}")


def test_settings_the_schema_cannot_check_fail_in_one_line(helm: Path) -> None:
    cases = {
        ("--set", "shutdownGrace=30"): "shutdownGrace (30) must be below terminationGracePeriodSeconds (30)",
        ("--set", "auth.token=short"): "auth.token has 5 characters; it needs at least 16",
        ("--set", "auth.enabled=false"): "auth.enabled is false and oidc.issuer is empty",
        ("--set", "oidc.issuer=https://id.example.com"): "oidc.audience is empty",
        ("--set", "authorizeAsCaller=true"): "authorizeAsCaller is true but oidc.issuer is empty",
    }
    for args, message in cases.items():
        first = refused(helm, *args).splitlines()[0]  # helm adds a hint about --debug below it
        assert first.startswith("Error: execution error at") and message in first


# --- accepted by a real API server -------------------------------------------------------------


def kubectl(fleet: Fleet, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = kubectl_path()
    if binary is None:
        pytest.skip(
            "no kubectl on PATH or in the control-plane cache (python -m integration.controlplane build --nodes)"
        )
    context = fleet.contexts[0]
    config = fleet.kubeconfig_dir / f"{context}.yaml"
    return run([binary, f"--kubeconfig={config}", f"--context={context}", *args], stdin=stdin)


@pytest.fixture(scope="module")
def service_monitor_crd(fleet: Fleet) -> Iterator[None]:
    crd = yaml.safe_dump(SERVICE_MONITOR_CRD)
    done = kubectl(fleet, "apply", "--server-side", "-f", "-", stdin=crd)
    assert done.returncode == 0, done.stderr
    done = kubectl(
        fleet,
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/servicemonitors.monitoring.coreos.com",
    )
    assert done.returncode == 0, done.stderr
    yield
    kubectl(fleet, "delete", "--wait=false", "crd/servicemonitors.monitoring.coreos.com")


@pytest.fixture
def restricted_namespace(fleet: Fleet, namespace: str) -> str:
    """The test's namespace, where the API server warns about pods below the restricted standard."""
    done = kubectl(fleet, "label", "namespace", namespace, "pod-security.kubernetes.io/warn=restricted")
    assert done.returncode == 0, done.stderr
    return namespace


def dry_run(fleet: Fleet, manifests: str) -> subprocess.CompletedProcess[str]:
    return kubectl(
        fleet,
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=chart-test",
        "-f",
        "-",
        stdin=manifests,
    )


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda v: v.name if v else "defaults")
def test_every_rendered_object_passes_a_server_side_dry_run(
    helm: Path, fleet: Fleet, restricted_namespace: str, service_monitor_crd: None, values: Path | None
) -> None:
    text = rendered_text(helm, *with_values(values), namespace=restricted_namespace)
    objects = [doc for doc in yaml.safe_load_all(text) if doc]
    done = dry_run(fleet, text)
    assert done.returncode == 0, done.stderr
    applied = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(applied) == len(objects), done.stdout
    assert all("(server dry run)" in line for line in applied), done.stdout
    if values == ALL_OPTIONS:
        assert {"ServiceMonitor", "ClusterRole"} <= {o["kind"] for o in objects}
        # hostNetwork is below the restricted standard, and the API server says so: the check works.
        assert 'would violate PodSecurity "restricted:latest": host namespaces' in done.stderr
    else:
        assert "PodSecurity" not in done.stderr, done.stderr


def test_the_dry_run_refuses_what_a_server_would(helm: Path, fleet: Fleet, namespace: str) -> None:
    """A field the API does not know fails the dry run: the check above is a real one."""
    deployment = one(template(helm), "Deployment")
    deployment["metadata"]["namespace"] = namespace
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    done = dry_run(fleet, yaml.safe_dump(deployment))
    assert done.returncode != 0
    assert 'containers[name="server"].readinesProbe: field not declared in schema' in done.stderr


def test_install_dry_run_prints_how_to_reach_it(helm: Path, fleet: Fleet, namespace: str) -> None:
    """`helm install --dry-run=server` against the API server: the chart installs, and NOTES tell
    an MCP client where the endpoint is and how to get the token."""
    context = fleet.contexts[0]
    done = run(
        [
            helm,
            "install",
            RELEASE,
            CHART,
            "--dry-run=server",
            f"--namespace={namespace}",
            f"--kubeconfig={fleet.kubeconfig_dir / f'{context}.yaml'}",
            f"--kube-context={context}",
        ]
    )
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    fullname = f"{RELEASE}-k8s-multicluster-mcp"
    assert f"http://{fullname}.{namespace}.svc:8000/mcp" in notes
    assert f"get secret {fullname}-token" in notes
    assert '--header "Authorization: Bearer $TOKEN"' in notes


# --- installed, and its pod's command run as a process --------------------------------------------

# The local control plane runs no controller manager (so `view` has no rules aggregated into it)
# and no nodes: the test grants the kinds the cache watches through the chart's opt-in rules.
WATCHED_KINDS_RULE = [
    {
        "apiGroups": ["", "apps"],
        "resources": ["pods", "deployments", "nodes", "namespaces"],
        "verbs": ["get", "list", "watch"],
    }
]


def mounted(paths: dict[str, str], arg: str) -> str:
    """A flag with the pod's mount paths replaced by where the test put the same files."""
    return next((arg.replace(pod, here) for pod, here in paths.items() if pod in arg), arg)


def test_installed_chart_runs_the_server_its_pod_describes(
    helm: Path, fleet: Fleet, namespace: str, tmp_path: Path
) -> None:
    """`helm install` for real; the Deployment's container (args, env, probes) as the API server
    stored it is run as a process with the pod's mounts recreated: the chart's ServiceAccount
    token (TokenRequest) as the in-cluster identity, the chart's generated token Secret as
    --auth-token-file. The startup probe's path answers, the readiness probe's turns 200 once the
    cache synced, an MCP client with the token gets a fleet answer, the Service's name is an
    allowed Host, the write tools are not there; `helm uninstall` leaves nothing behind."""
    context = fleet.contexts[0]
    kubeconfig = fleet.kubeconfig_dir / f"{context}.yaml"
    target = [f"--namespace={namespace}", f"--kubeconfig={kubeconfig}", f"--kube-context={context}"]
    port, health = free_port(), free_port()
    settings = [
        f"--set=port={port}",
        f"--set=healthPort={health}",
        f"--set=service.port={port}",
        "--set=shutdownGrace=2",
        "--set=toolsets={all}",  # every toolset: --read-only must still drop the writing tools
    ]
    rule = json.dumps(WATCHED_KINDS_RULE)
    done = run([helm, "install", RELEASE, CHART, *target, *settings, f"--set-json=rbac.extraRules={rule}"])
    assert done.returncode == 0, done.stderr
    fullname = f"{RELEASE}-k8s-multicluster-mcp"
    try:
        deployment = json.loads(
            kubectl(fleet, "-n", namespace, "get", "deployment", fullname, "-o", "json").stdout
        )
        (pod,) = deployment["spec"]["template"]["spec"]["containers"]
        secret = json.loads(
            kubectl(fleet, "-n", namespace, "get", "secret", f"{fullname}-token", "-o", "json").stdout
        )
        account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        sa_token = kubectl(fleet, "-n", namespace, "create", "token", account, "--duration=1h")
        assert sa_token.returncode == 0, sa_token.stderr

        cluster = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]
        api = urlsplit(cluster["server"])
        mount = tmp_path / "serviceaccount"
        mount.mkdir()
        (mount / "token").write_text(sa_token.stdout.strip())
        (mount / "ca.crt").write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        (mount / "namespace").write_text(namespace)
        token = base64.b64decode(secret["data"]["token"]).decode()
        (tmp_path / "token").write_text(token)
        paths = {"/etc/k8s-multicluster-mcp/auth/token": str(tmp_path / "token")}
        args = [mounted(paths, a).replace("$(POD_IP)", "127.0.0.1") for a in pod["args"]]
        env = server_env(tmp_path, **{e["name"]: e["value"] for e in pod["env"] if "value" in e})
        env |= {
            "HOME": str(tmp_path / "home"),
            "POD_IP": "127.0.0.1",
            "KUBERNETES_SERVICE_HOST": str(api.hostname),
            "KUBERNETES_SERVICE_PORT": str(api.port),
            "K8S_MCP_SERVICE_ACCOUNT_DIR": str(mount),
        }
        probe_port = {p["name"]: p["containerPort"] for p in pod["ports"]}
        startup, readiness = (pod[name]["httpGet"] for name in ("startupProbe", "readinessProbe"))
        assert probe_port[startup["port"]] == probe_port[readiness["port"]] == health
        server = subprocess.Popen(
            [str(SCRIPT), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            ready = answered_within(health, startup["path"], 60, lambda status, _: status == 200)
            assert ready is not None, "the startup probe's path never answered 200"
            ready = answered_within(health, readiness["path"], 60, lambda status, _: status == 200)
            assert ready is not None, "the readiness probe's path never turned 200"
            assert json.loads(ready[1])["contexts"] == {"in-cluster": "synced"}, ready[1]

            mcp = f"http://127.0.0.1:{port}/mcp"
            accept = {"Accept": "application/json, text/event-stream"}
            assert httpx2.post(mcp, json=INITIALIZE, headers=accept).status_code == 401
            bearer = {**accept, "Authorization": f"Bearer {token}"}
            for host, status in ((f"{fullname}.{namespace}.svc:{port}", 200), ("elsewhere.example.com", 421)):
                answer = httpx2.post(mcp, json=INITIALIZE, headers={**bearer, "Host": host})
                assert answer.status_code == status, (host, answer.text)

            async def ask() -> tuple[set[str], str]:
                async with (
                    httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
                    Client(streamable_http_client(mcp, http_client=http)) as client,
                ):
                    tools = {t.name for t in (await client.list_tools()).tools}
                    return tools, text(await client.call_tool("k8s_fleet_summary", {}))

            tools, summary = anyio.run(ask)
            assert {
                "k8s_fleet_summary",
                "k8s_get_roles",
            } <= tools and "k8s_create_ns" not in tools  # read-only
            assert not [t for t in tools if t.startswith(("k8s_delete", "k8s_apply", "k8s_scale"))], tools
            assert summary.startswith("1 of 1 cluster answered (cache"), summary
        finally:
            server.terminate()  # SIGTERM, as the kubelet stops a pod
            _, err = server.communicate(timeout=60)
    finally:
        uninstalled = run([helm, "uninstall", RELEASE, *target, "--wait"])
    assert uninstalled.returncode == 0, uninstalled.stderr
    kinds = "deployment,service,secret,serviceaccount,networkpolicy,poddisruptionbudget,clusterrole,clusterrolebinding"
    left = kubectl(fleet, "get", kinds, "-A", "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name")
    assert left.returncode == 0 and left.stdout.strip() == "", left.stdout + left.stderr
    # SIGTERM, as the kubelet stops a pod: a clean exit (uvicorn re-raises the signal it caught;
    # cli.main takes it wrapped in the health port's task group too).
    assert server.returncode == 0, err[-2000:]


def answered_within(
    port: int, path: str, seconds: float, done: Callable[[int, str], bool]
) -> tuple[int, str] | None:
    """Poll http://127.0.0.1:port/path (as the kubelet would) until `done`; None if it never was."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # not listening yet
            status, body = get(port, path)
            if done(status, body):
                return status, body
        time.sleep(0.2)
    return None
