"""Helpers of the real-node tests of the MCP tools (test_real_nodes_tools/_watch/_workloads): the
server driven through its public entry points only (`build_registry`, `build_services`,
`build_server`, `Settings`), on demand or with --watch; kubectl's pod table beside our answer at
the same moment; manifests of the workload image; polling with a deadline."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from integration import controlplane, seed
from integration.backends import RealFleet
from k8s_multicluster_mcp.server import build_registry, build_server, build_services
from k8s_multicluster_mcp.settings import Settings

IMAGE = controlplane.WORKLOAD_IMAGE
T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    is_error: bool = False

    def lines_with(self, word: str) -> list[str]:
        return [line for line in self.text.splitlines() if word in line]


class Server:
    """The MCP server over a directory of kubeconfigs, restricted to `contexts`, called in
    process as a client would call it. `cache_ttl=0` on demand, so every answer is fresh."""

    def __init__(
        self, kubeconfig_dir: Path, contexts: Sequence[str], *, watch: bool = False, **extra: Any
    ) -> None:
        self.settings = Settings(
            kubeconfig_dir=kubeconfig_dir,
            contexts=tuple(contexts),
            watch=watch,
            cache_ttl=0,
            request_timeout=10,
            **{"toolsets": ("all",), **extra},  # the write tools too (exec, drain, undo)
        )
        self.services = build_services(self.settings, build_registry(self.settings))
        self.server = build_server(self.settings, self.services)
        if watch:
            self.services.state.source.start()

    def call(self, tool: str, **arguments: Any) -> Answer:
        """The tool's answer; an argument or user error (raised by the SDK) is an error answer."""
        try:
            result = anyio.run(self.server.call_tool, tool, arguments)
        except ToolError as exc:
            return Answer(str(exc).removeprefix(f"Error executing tool {tool}: "), {}, True)
        return Answer(result.content[0].text, result.structured_content or {}, bool(result.is_error))

    def wait_synced(
        self, kinds: Iterable[str] = ("pods", "deployments", "nodes"), timeout: float = 60
    ) -> None:
        """Until every watched (context, kind) is synced."""
        wanted = {(c, k) for c in self.settings.contexts for k in kinds}

        def synced() -> bool:
            entries = self.call("k8s_cache_status").data.get("entries") or []
            return wanted <= {(e["context"], e["kind"]) for e in entries if e["synced"]}

        wait_for("the watch cache synced", synced, timeout)

    def pod_rows(self, context: str, namespace: str) -> dict[str, tuple[str, str, int]]:
        """name -> (READY, STATUS, RESTARTS) of `k8s_get_resources kind=pods`."""
        answer = self.call("k8s_get_resources", kind="pods", context=context, namespace=namespace, limit=500)
        assert not answer.is_error, answer.text
        return {i["name"]: (i["ready"], i["status"], i["restarts"]) for i in answer.data["items"]}

    def failing(self, context: str, namespace: str) -> dict[str, dict[str, Any]]:
        """name -> the `k8s_fleet_failing_pods` item (reason, restarts, owner, node), with its text
        row's MESSAGE column as `message` (the structured items leave the message to the text)."""
        answer = self.call("k8s_fleet_failing_pods", context=context, namespace=namespace, limit=500)
        assert not answer.is_error, answer.text
        lines = answer.text.splitlines()
        header = next((n for n, line in enumerate(lines) if line.startswith("CONTEXT ")), len(lines))
        at = lines[header].index("MESSAGE") if header < len(lines) else 0
        rows = [line for line in lines[header + 1 :] if not line.startswith("…") and len(line.split()) > 2]
        messages = {line.split()[2]: line[at:].strip() for line in rows}
        return {i["name"]: {**i, "message": messages.get(i["name"], "")} for i in answer.data["items"]}

    def changes(self, context: str, namespace: str, minutes: float = 30) -> list[dict[str, Any]]:
        answer = self.call(
            "k8s_fleet_recent_changes", context=context, namespace=namespace, minutes=minutes, limit=500
        )
        assert not answer.is_error, answer.text
        return list(answer.data["items"])

    def close(self) -> None:
        self.services.close()


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 60, interval: float = 0.5) -> T:
    """Poll `check` until it returns something true (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None and found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s")
        time.sleep(interval)


def kubectl_pods(fleet: RealFleet, context: str, namespace: str) -> dict[str, tuple[str, str, int]]:
    """name -> (READY, STATUS, RESTARTS without its "(5s ago)") as `kubectl get pods` prints them."""
    done = fleet.kubectl(context, "get", "pods", "-n", namespace, "--no-headers")
    assert done.returncode == 0, done.stderr
    rows = {}
    for line in done.stdout.splitlines():
        name, ready, status, restarts, *_ = line.split()
        rows[name] = (ready, status, int(restarts))
    return rows


def same_as_kubectl(
    fleet: RealFleet,
    context: str,
    namespace: str,
    servers: Sequence[Server],
    names: Iterable[str],
    *,
    columns: slice = slice(0, 2),
    attempts: int = 10,
) -> dict[str, tuple[str, str, int]]:
    """Compare each pod's row in every server's answer with kubectl's, read just before and just
    after ours: a pod whose kubectl row changed between the two reads is compared again on the
    next attempt. `columns` of (READY, STATUS, RESTARTS) are compared, READY and STATUS unless
    told. Returns kubectl's rows; fails with the rows that differ at a stable moment."""
    left = set(names)
    verified: dict[str, tuple[str, str, int]] = {}
    differ: dict[str, Any] = {}
    for _ in range(attempts):
        before = kubectl_pods(fleet, context, namespace)
        ours = [server.pod_rows(context, namespace) for server in servers]
        after = kubectl_pods(fleet, context, namespace)
        for name in sorted(left):
            if name not in before or before[name] != after.get(name):
                continue
            got = [rows.get(name, ("", "<missing>", -1))[columns] for rows in ours]
            if all(g == before[name][columns] for g in got):
                verified[name] = before[name]
                left.discard(name)
                differ.pop(name, None)
            else:
                differ[name] = {"kubectl": before[name][columns], "ours": got}
        if not left:
            return verified
        time.sleep(0.3)
    raise AssertionError(f"STATUS differs from kubectl's (or never stable): {differ or sorted(left)}")


def container(name: str = "main", args: Sequence[str] = ("serve",), **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": IMAGE, "imagePullPolicy": "Never", "args": list(args), **extra}


def pod(name: str, *containers: dict[str, Any], grace: int = 2, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": grace, "containers": list(containers), **spec},
    }


READY_PROBE = {"exec": {"command": ["/workload", "check", "/tmp/ready"]}, "periodSeconds": 1}


def deployment(name: str, replicas: int, *, image: str = IMAGE, min_ready: int = 0) -> dict[str, Any]:
    """The workload serving, Ready once its READY_FILE exists; `command` is set, so the pause
    image (the same binary) runs it too: a second image for rollouts without a registry."""
    serving = container(
        command=["/workload"],
        env=[{"name": "READY_FILE", "value": "/tmp/ready"}],
        readinessProbe=READY_PROBE,
    )
    serving["image"] = image
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"terminationGracePeriodSeconds": 2, "containers": [serving]},
            },
        },
    }


def available(fleet: RealFleet, context: str, namespace: str, name: str, replicas: int) -> bool:
    """Done as kubectl rollout status judges it, read from the API."""
    d = fleet.apps(context).read_namespaced_deployment(name, namespace)
    s = d.status
    return bool(
        (s.observed_generation or 0) >= d.metadata.generation
        and (s.updated_replicas or 0) == replicas
        and (s.replicas or 0) == replicas
        and (s.available_replicas or 0) == replicas
    )


@contextlib.contextmanager
def servers_in_namespace(
    fleet: RealFleet, ctx: str, prefix: str, *, watch: bool, **settings: Any
) -> Iterator[tuple[str, Server, Server | None, contextlib.ExitStack]]:
    """A fresh namespace of `ctx` (`prefix-xxxxxx`), an on-demand server and, with `watch`, a
    --watch server synced before anything is created; all gone at the end. The stack takes the
    module's own clean-ups."""
    ns = f"{prefix}-{secrets.token_hex(3)}"
    seed.create_namespace(fleet.admin(ctx), ns)
    seed.wait_until_pods_can_start(fleet.admin(ctx), ns)
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: seed.delete_namespace(fleet.admin(ctx), ns))
        live = Server(fleet.kubeconfig_dir, [ctx], **settings)
        stack.callback(live.close)
        cached = None
        if watch:
            cached = Server(fleet.kubeconfig_dir, [ctx], watch=True, **settings)
            stack.callback(cached.close)
            cached.wait_synced()
        yield ns, live, cached, stack
