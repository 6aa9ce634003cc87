"""The team server deployed for real (issue 19): the image the release recipe builds
(`image/build.py`) loaded into a real node's containerd, the chart installed with helm on that
cluster, the pod Ready only once its watch cache synced, and the official MCP client reaching it
through the pod's address with the chart's token, answering a fleet question about its own
cluster from the cache with its in-cluster identity; `helm uninstall` leaves nothing behind.

The test fleet has no kube-proxy, so the pod runs with `hostNetwork: true` and reaches its API
server on loopback through `extraEnv` (`KUBERNETES_SERVICE_HOST`/`PORT`, which explicit env
overrides on any cluster); everything else is the chart's defaults: read-only, restricted
security context with a read-only root filesystem, `view` plus reading nodes, probes on the
health port. Building the image takes about 2 minutes (5 with a fresh Debian rootfs, cached in
~/.cache/k8s-multicluster-mcp/image)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from kubernetes.client import CoreV1Api
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from integration import controlplane, seed
from integration.backends import RealFleet
from integration.controlplane.build import build_helm, cache_dir
from integration.controlplane.images import ServerImage, server_image, server_image_problem
from integration.controlplane.process import free_port
from integration.real_nodes_mcp import available, container, deployment, pod, wait_for

pytestmark = pytest.mark.realnodes

CHART = Path(__file__).resolve().parent.parent / "charts" / "k8s-multicluster-mcp"
RELEASE = "team"
NAMESPACE = "mcp-team"
WORK = "team-work"
SERVER = "/opt/k8s-multicluster-mcp/bin/k8s-multicluster-mcp"


@dataclass
class Deployed:
    fleet: RealFleet
    context: str
    helm: Path
    image: ServerImage
    tmp: Path

    def helm_run(self, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            **{
                f"HELM_{kind}_HOME": str(self.tmp / f"helm-{kind.lower()}")
                for kind in ("CACHE", "CONFIG", "DATA")
            },
        }
        return subprocess.run(
            [
                str(self.helm),
                f"--kubeconfig={self.fleet.kubeconfig_dir / f'{self.context}.yaml'}",
                f"--kube-context={self.context}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )


@pytest.fixture(scope="module")
def deployed(real_fleet: RealFleet, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    problem = server_image_problem()
    if problem:
        pytest.skip(problem)
    context = real_fleet.contexts[0]
    image = server_image(cache_dir())
    (node,) = controlplane.load(real_fleet.workdir).cluster(context).nodes
    imported = subprocess.run(
        ["ctr", "--address", node.socket, "--namespace", "k8s.io", "images", "import", str(image.archive)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    return Deployed(real_fleet, context, build_helm(), image, tmp_path_factory.mktemp("team"))


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _server_pid() -> int | None:
    """The server's process as the host sees it (the container shares the host's pid view here)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(part.endswith(SERVER.encode()) for part in argv[:2]):
                return int(entry.name)
    return None


async def _ask(url: str, token: str) -> dict[str, Any]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    async with (
        http,
        streamable_http_client(url, http_client=http) as (read, write, *_),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        answers: dict[str, Any] = {"tools": [t.name for t in (await session.list_tools()).tools]}
        for tool in ("k8s_fleet_summary", "k8s_fleet_failing_pods", "k8s_cache_status"):
            result = await session.call_tool(tool, {})
            assert not result.is_error, result.content
            answers[tool] = (result.content[0].text, result.structured_content)  # type: ignore[union-attr]
        return answers


def test_the_chart_runs_the_image_on_a_real_node_ready_after_sync_and_answers_from_the_cache(
    deployed: Deployed,
) -> None:
    fleet, context = deployed.fleet, deployed.context
    api_port = controlplane.load(fleet.workdir).cluster(context).port
    port, health = free_port(), free_port()
    token = secrets.token_hex(16)
    env = [
        {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
        {"name": "KUBERNETES_SERVICE_PORT", "value": str(api_port)},
    ]
    # Something to ask about: three serving replicas and a pod whose image cannot be pulled.
    core = CoreV1Api(fleet.admin(context))
    seed.create_namespace(fleet.admin(context), WORK)
    seed.wait_until_pods_can_start(fleet.admin(context), WORK)
    fleet.apps(context).create_namespaced_deployment(WORK, deployment("web", 3))
    core.create_namespaced_pod(
        WORK, pod("unpullable", container(image=controlplane.ABSENT_IMAGE, imagePullPolicy="Always"))
    )
    wait_for("web available", lambda: available(fleet, context, WORK, "web", 3), timeout=120)

    started = time.monotonic()
    installed = deployed.helm_run(
        "install", RELEASE, str(CHART), f"--namespace={NAMESPACE}", "--create-namespace",
        f"--set=image.repository={deployed.image.name}", f"--set=image.tag={deployed.image.tag}",
        "--set=image.pullPolicy=Never", "--set=hostNetwork=true",
        f"--set=port={port}", f"--set=healthPort={health}", f"--set=service.port={port}",
        f"--set=auth.token={token}", f"--set-json=extraEnv={json.dumps(env)}",
        "--wait", "--timeout=5m",
    )  # fmt: skip
    install_to_ready = time.monotonic() - started
    try:
        assert installed.returncode == 0, installed.stderr + _pod_story(fleet, context)
        (server_pod,) = core.list_namespaced_pod(
            NAMESPACE, label_selector=f"app.kubernetes.io/instance={RELEASE}"
        ).items
        assert {c.type: c.status for c in server_pod.status.conditions}["Ready"] == "True"
        probe = server_pod.spec.containers[0].readiness_probe.http_get
        assert probe.path == "/readyz", probe
        # Ready means /readyz said 200, and /readyz says 200 only once every reachable watch synced.
        status, body = _get(f"http://{server_pod.status.pod_ip}:{health}/readyz")
        assert status == 200 and body["contexts"] == {"in-cluster": "synced"}, body
        security = server_pod.spec.containers[0].security_context
        assert security.read_only_root_filesystem and server_pod.spec.security_context.run_as_user == 65532

        answers = asyncio.run(_ask(f"http://{server_pod.status.pod_ip}:{port}/mcp", token))
        summary, structured = answers["k8s_fleet_summary"]
        assert summary.startswith("1 of 1 cluster answered (cache"), summary
        assert "forbidden" not in summary, summary  # view + nodes: every kind readable
        pods_live = len(core.list_pod_for_all_namespaces().items)
        nodes_live = len(core.list_node().items)
        (row,) = structured["items"]
        assert row["context"] == "in-cluster", row
        cached_pods = sum(row["pods_by_phase"].values())
        assert abs(cached_pods - pods_live) <= 2, (row, pods_live)  # other tests' pods may come and go
        assert row["nodes"] == row["nodes_ready"] == nodes_live, (row, nodes_live)
        assert not [t for t in answers["tools"] if t.startswith(("k8s_delete", "k8s_apply", "k8s_scale"))]
        failing, failing_structured = answers["k8s_fleet_failing_pods"]
        named = {(i["namespace"], i["name"]) for i in failing_structured["items"]}
        assert (WORK, "unpullable") in named, failing
        cache_text, _ = answers["k8s_cache_status"]
        assert "3 of 3 (context, kind) synced" in cache_text, cache_text

        pid = _server_pid()
        rss = None
        if pid is not None:
            status_lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            rss = next(line.split()[1] for line in status_lines if line.startswith("VmRSS"))
        print(
            f"\nteam server on a real node: image {deployed.image.archive.stat().st_size / 1e6:.1f} MB "
            f"(archive), helm install -> Ready {install_to_ready:.1f} s, "
            f"RSS at idle {int(rss) / 1024 if rss else float('nan'):.0f} MiB with {pods_live} pods cached"
        )
    finally:
        uninstalled = deployed.helm_run("uninstall", RELEASE, f"--namespace={NAMESPACE}", "--wait")
        seed.delete_namespace(fleet.admin(context), WORK)
    assert uninstalled.returncode == 0, uninstalled.stderr
    _assert_nothing_left(deployed, core)


def _assert_nothing_left(deployed: Deployed, core: CoreV1Api) -> None:
    deadline = time.monotonic() + 120
    selector = f"app.kubernetes.io/instance={RELEASE}"
    while core.list_namespaced_pod(NAMESPACE, label_selector=selector).items:
        assert time.monotonic() < deadline, "the server's pod outlived helm uninstall by 2 minutes"
        time.sleep(1)
    kinds = (
        "all,secret,serviceaccount,networkpolicy,poddisruptionbudget,configmap,clusterrole,clusterrolebinding"
    )
    left = deployed.fleet.kubectl(deployed.context, "get", kinds, "-A", "-l", selector, "-o", "name")
    assert left.returncode == 0 and left.stdout.strip() == "", left.stdout + left.stderr


def _pod_story(fleet: RealFleet, context: str) -> str:
    """What went wrong with the pod, for a failed install's message."""
    described = fleet.kubectl(context, "-n", NAMESPACE, "describe", "pods")
    logs = fleet.kubectl(context, "-n", NAMESPACE, "logs", "-l", f"app.kubernetes.io/instance={RELEASE}")
    return f"\n{described.stdout[-3000:]}\n{logs.stdout[-3000:]}{logs.stderr[-500:]}"
