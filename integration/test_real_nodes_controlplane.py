"""The real-node infrastructure itself: nodes Ready, a Deployment really runs (controller manager,
scheduler, kubelet, containerd), kubectl reaches its pods (get, logs, exec) through the API
server on loopback only, and `down` leaves nothing behind on the machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import AppsV1Api, CoreV1Api

from integration import controlplane, seed
from integration.backends import RealFleet, client_for
from integration.controlplane import nodes as node_host
from integration.controlplane import versions

pytestmark = pytest.mark.realnodes


def _wait(what: str, check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f}s")
        time.sleep(0.25)


def workload_deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    """The workload image serving, Ready once its READY_FILE exists (an exec probe, no network)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 2,
                    "containers": [
                        {
                            "name": "main",
                            "image": controlplane.WORKLOAD_IMAGE,
                            "imagePullPolicy": "Never",
                            "args": ["serve"],
                            "env": [{"name": "READY_FILE", "value": "/tmp/ready"}],
                            "readinessProbe": {
                                "exec": {"command": ["/workload", "check", "/tmp/ready"]},
                                "periodSeconds": 1,
                            },
                        }
                    ],
                },
            },
        },
    }


def _available(apps: AppsV1Api, namespace: str, name: str, replicas: int) -> bool:
    status = apps.read_namespaced_deployment(name, namespace).status
    return (status.available_replicas or 0) == replicas and (status.updated_replicas or 0) == replicas


def test_nodes_are_ready_and_run_the_pinned_kubelet(real_fleet: RealFleet) -> None:
    for ctx in real_fleet.contexts:
        (node,) = real_fleet.core(ctx).list_node().items
        assert node.metadata.name == f"{ctx}-node-1" == real_fleet.node_names(ctx)[0]
        ready = {c.type: c.status for c in node.status.conditions}["Ready"]
        assert ready == "True"
        assert node.status.node_info.kubelet_version == versions.KUBERNETES
        assert node.status.node_info.container_runtime_version.startswith("containerd://")
        addresses = {a.type: a.address for a in node.status.addresses}
        assert addresses["Hostname"] == node.metadata.name
        images = {name for image in node.status.images for name in image.names}
        assert {controlplane.WORKLOAD_IMAGE, controlplane.PAUSE_IMAGE} <= images


def test_api_servers_reach_kubelets_on_loopback_only(real_fleet: RealFleet) -> None:
    """Node names resolve to 127.0.0.1 inside the API servers' mount namespace (the machine's
    /etc/hosts untouched), API servers use Hostname addresses only, and every component listens
    on loopback."""
    state = controlplane.load(real_fleet.workdir)
    system_hosts = Path("/etc/hosts").read_text()
    pids: list[int] = []
    for cluster in state.clusters:
        assert cluster.pid is not None
        assert "--kubelet-preferred-address-types=Hostname" in cluster.args
        inside = Path(f"/proc/{cluster.pid}/root/etc/hosts").read_text()
        for node in cluster.nodes:
            assert f"127.0.0.1 {node.name}\n" in inside
            assert node.name not in system_hosts
            pids += [p for p in (node.kubelet_pid, node.containerd_pid) if p]
        pids += [cluster.pid, *(p.pid for p in cluster.controllers if p.pid)]
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    seen = 0
    for line in listening.splitlines():
        if any(f"pid={pid}," in line for pid in pids):
            local = line.split()[3]
            assert local.rsplit(":", 1)[0] in ("127.0.0.1", "[::ffff:127.0.0.1]"), line
            seen += 1
    assert seen >= len(pids)


@pytest.mark.timeout(240)
def test_deployment_becomes_available_and_kubectl_reaches_its_pod(
    real_fleet: RealFleet, real_namespace: str
) -> None:
    for ctx in real_fleet.contexts:
        real_fleet.apps(ctx).create_namespaced_deployment(real_namespace, workload_deployment("web", 2))
    for ctx in real_fleet.contexts:
        _wait(
            f"web available in {ctx}",
            lambda ctx=ctx: _available(real_fleet.apps(ctx), real_namespace, "web", 2),
        )
        pods = real_fleet.core(ctx).list_namespaced_pod(real_namespace).items
        assert len(pods) == 2
        assert {p.metadata.owner_references[0].kind for p in pods} == {"ReplicaSet"}
        assert {p.spec.node_name for p in pods} == {f"{ctx}-node-1"}
        assert all(p.status.pod_ip.startswith("10.244.") for p in pods)

        table = real_fleet.kubectl(ctx, "get", "pods", "-n", real_namespace, "--no-headers")
        assert table.returncode == 0, table.stderr
        rows = [line.split() for line in table.stdout.splitlines()]
        assert [(r[1], r[2]) for r in rows] == [("1/1", "Running")] * 2

        pod = pods[0].metadata.name
        _wait(
            "a second log line",
            lambda ctx=ctx, pod=pod: (
                "tick 2" in real_fleet.kubectl(ctx, "logs", "-n", real_namespace, pod).stdout
            ),
        )
        echoed = real_fleet.kubectl(
            ctx, "exec", "-n", real_namespace, pod, "--", "/workload", "echo", "hello", "there"
        )
        assert (echoed.returncode, echoed.stdout) == (0, "hello there\n"), echoed.stderr
        failed = real_fleet.kubectl(ctx, "exec", "-n", real_namespace, pod, "--", "/workload", "exit", "3")
        assert failed.returncode == 3, failed.stderr


# -- down leaves the machine as it was ---------------------------------------------------------

WATCHED = (
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/log/pods",
    "/var/lib/cni",
    "/run/containerd",
    "/run/netns",
    "/usr/libexec/kubernetes",
    "/etc/kubernetes",
    "/etc/cni",
    "/opt/containerd",
    "/var/lib/containerd",
)


def _walk(root: str) -> set[str]:
    found: set[str] = set()
    if os.path.lexists(root):
        found.add(root)
    for directory, subdirs, files in os.walk(root):
        found |= {os.path.join(directory, n) for n in subdirs + files}
    return found


def _other_fleets() -> tuple[list[str], list[str]]:
    """Node directories and bridges of real nodes still running on this machine (another fleet)."""
    directories, bridges = [], []
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            args = pid_dir.joinpath("cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        for arg in args:
            if arg.startswith("--root-dir="):
                directories.append(str(Path(arg.split("=", 1)[1]).parent))
    for directory in directories:
        conflist = Path(directory) / "cni" / "net.d" / "10-kmcp.conflist"
        if conflist.exists():
            bridges.append(json.loads(conflist.read_text())["name"])
    return directories, bridges


def _host_snapshot() -> dict[str, Any]:
    cgroups = {str(d) for mount, _ in node_host._cgroup_mounts() for d in mount.iterdir() if d.is_dir()}
    return {
        "mounts": {line.split(" ")[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()},
        "links": set(os.listdir("/sys/class/net")),
        "cgroups": cgroups,
        "files": set().union(*(_walk(p) for p in WATCHED)),
        "tmp": set(os.listdir("/tmp")),
        "sysctls": {s: Path("/proc/sys", s).read_text() for s in node_host.SYSCTLS},
    }


def _leftovers(before: dict[str, Any], after: dict[str, Any], workdir: Path) -> list[str]:
    """What is on the machine after `down` that was not before, less what another running fleet
    made meanwhile (a shared session may run real_fleet beside this test)."""
    directories, bridges = _other_fleets()

    def theirs(path: str) -> bool:
        return any(path.startswith(d + "/") for d in directories)

    problems = [f"mount {m}" for m in after["mounts"] - before["mounts"] if not theirs(m)]
    for link in after["links"] - before["links"]:
        master = Path("/sys/class/net", link, "master")
        if not (master.exists() and master.resolve().name in bridges) and link not in bridges:
            problems.append(f"interface {link}")
    problems += [f"cgroup {c}" for c in after["cgroups"] - before["cgroups"] if Path(c).name not in bridges]
    for path in sorted(after["files"] - before["files"]):
        p = Path(path)
        if p.is_symlink() and theirs(os.readlink(p)):
            continue
        if p.is_socket() and node_host._listening(p):
            continue
        if p.parent.name == "results" and any(p.name.startswith(f"{b}-") for b in bridges):
            continue
        if p.is_dir() and directories:
            continue
        problems.append(f"file {path}")
    # (the kubernetes client of this test writes CA files to /tmp/tmpXXXXXXXX until it exits)
    problems += [f"/tmp/{t}" for t in after["tmp"] - before["tmp"] if not t.startswith(("pytest-of-", "tmp"))]
    problems += [f"sysctl {s}" for s, v in after["sysctls"].items() if before["sysctls"][s] != v]
    problems += [f"process {pid}" for pid in node_host._processes_with(str(workdir))]
    return problems


def test_a_workdir_too_long_for_unix_sockets_is_refused_at_once(tmp_path: Path) -> None:
    problem = controlplane.host_problem()
    if problem:
        pytest.skip(problem)
    workdir = tmp_path / ("x" * 60)
    with pytest.raises(RuntimeError, match=r"too long for the nodes' unix sockets \(at most \d+ characters"):
        controlplane.up(workdir, clusters=1, nodes=1)
    assert not workdir.exists()


@pytest.mark.timeout(300)
def test_down_leaves_nothing_on_the_machine() -> None:
    """A fleet of its own: a pod that really ran (mounts, a network namespace, veth, cgroups), an
    API server stopped and started under its node, then `down`: nothing of it is left."""
    problem = controlplane.host_problem()
    if problem:
        pytest.skip(problem)
    workdir = Path(tempfile.mkdtemp(prefix="k8s-mcp-clean-"))  # short: unix socket paths are limited
    before = _host_snapshot()
    state = controlplane.up(workdir, clusters=1, nodes=1)
    (cluster,) = state.clusters
    api = client_for(Path(cluster.kubeconfig), cluster.name)
    try:
        seed.create_namespace(api, "clean")
        AppsV1Api(api).create_namespaced_deployment("clean", workload_deployment("web"))
        _wait("web available", lambda: _available(AppsV1Api(api), "clean", "web", 1))
        (pod,) = CoreV1Api(api).list_namespaced_pod("clean").items

        controlplane.stop(workdir, cluster.name)
        controlplane.start(workdir, cluster.name)
        _wait(
            "logs through a restarted API server",
            lambda: (
                "tick" in CoreV1Api(api).read_namespaced_pod_log(pod.metadata.name, "clean", tail_lines=1)
            ),
        )
        during = _host_snapshot()
        assert during["links"] - before["links"], "the pod's bridge and veth exist while it runs"
    finally:
        api.close()
        controlplane.down(workdir)
    after = _host_snapshot()
    assert _leftovers(before, after, workdir) == []
    described = controlplane.status(workdir)
    assert not described["clusters"][0]["nodes"][0]["running"]
    shutil.rmtree(workdir)
