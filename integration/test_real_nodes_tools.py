"""The MCP tools against pods a real kubelet runs (issue 16, item 4): the STATUS column beside
`kubectl get pods` for every pod state, failure triage in both modes and at every moment of a
crash loop, logs, exec and the events the real scheduler, controllers and kubelet write.

One namespace of cluster cp-1 holds every pod, created once for the module; two servers answer
about it: on demand (`cache_ttl=0`, so answers are fresh) and --watch (synced before the pods
exist, so its journal sees every transition). `pending_grace=5`, so NotReady and Pending are
classified within seconds."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException

from integration import controlplane
from integration.backends import RealFleet
from integration.real_nodes_mcp import (
    Answer,
    Server,
    container,
    deployment,
    kubectl_pods,
    pod,
    same_as_kubectl,
    servers_in_namespace,
    wait_for,
)

pytestmark = pytest.mark.realnodes

MISSING_SECRET = {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "missing", "key": "token"}}}
PODS = [
    pod("running", container()),
    pod("completed", container(args=["exit", "0"]), restartPolicy="Never"),
    pod("error", container(args=["exit", "1"]), restartPolicy="Never"),
    pod("crash", container(args=["exit", "1"])),
    pod("oom", container(args=["oom"], resources={"limits": {"memory": "16Mi"}})),
    pod("pull", {"name": "main", "image": controlplane.ABSENT_IMAGE, "imagePullPolicy": "Always"}),
    pod("config", container(env=[MISSING_SECRET])),
    pod("initcrash", container(), initContainers=[container("init", ["exit", "1"])]),
    pod("unsched", container(), nodeSelector={"k8s-mcp.example.com/nowhere": "true"}),
    pod(
        "notready",
        container(
            readinessProbe={"exec": {"command": ["/workload", "check", "/tmp/never"]}, "periodSeconds": 1}
        ),
    ),
    pod(  # a ConfigMap volume that cannot be mounted keeps the pod in ContainerCreating
        "creating",
        container(volumeMounts=[{"name": "config", "mountPath": "/config"}]),
        volumes=[{"name": "config", "configMap": {"name": "missing"}}],
    ),
    pod("duo", container("a"), container("b", ["echo", "from", "b"]), restartPolicy="OnFailure"),
    pod(  # its preStop hook holds the container for the whole grace period: Terminating for 60 s
        "term",
        container(lifecycle={"preStop": {"exec": {"command": ["/workload", "sleep", "60"]}}}),
        grace=60,
    ),
]
STATUS = {
    "running": {"Running"},
    "completed": {"Completed"},
    "error": {"Error"},
    "crash": {"Error", "CrashLoopBackOff"},
    "oom": {"OOMKilled", "Error", "CrashLoopBackOff"},  # Error (137): the kubelet, now and then
    "pull": {"ErrImagePull", "ImagePullBackOff"},
    "config": {"CreateContainerConfigError"},
    "initcrash": {"Init:Error", "Init:CrashLoopBackOff"},
    "unsched": {"Pending"},
    "notready": {"Running"},
    "creating": {"ContainerCreating"},
    "duo": {"NotReady"},
    "term": {"Terminating"},
}
"""What `kubectl get pods` shows once each pod has reached its state (crash loops: either moment)."""
LOOPING = ("crash", "oom", "initcrash")


@dataclass
class Env:
    fleet: RealFleet
    ctx: str
    ns: str
    live: Server
    cached: Server

    @property
    def servers(self) -> tuple[Server, Server]:
        return self.live, self.cached


@pytest.fixture(scope="module")
def env(real_fleet: RealFleet) -> Iterator[Env]:
    """Both servers (the --watch one synced first), then every pod of `PODS` and a Deployment."""
    ctx = real_fleet.contexts[0]
    core = real_fleet.core(ctx)
    with servers_in_namespace(real_fleet, ctx, "rt", watch=True, pending_grace=5) as (
        ns,
        live,
        cached,
        stack,
    ):
        assert cached is not None
        stack.callback(lambda: _force_delete(core, ns, "term"))
        for manifest in PODS:
            core.create_namespaced_pod(ns, manifest)
        real_fleet.apps(ctx).create_namespaced_deployment(ns, deployment("web", 1))
        yield Env(real_fleet, ctx, ns, live, cached)


def _force_delete(core: CoreV1Api, namespace: str, name: str) -> None:
    with contextlib.suppress(ApiException):
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)


def _settled(env: Env) -> dict[str, tuple[str, str, int]]:
    """kubectl's rows once every pod shows its state and every crash loop has restarted."""

    def check() -> dict[str, tuple[str, str, int]] | None:
        rows = kubectl_pods(env.fleet, env.ctx, env.ns)
        ready = all(rows.get(n, ("", "", 0))[1] in want for n, want in STATUS.items() if n != "term")
        return rows if ready and all(rows[n][2] >= 1 for n in LOOPING) else None

    return wait_for("every pod in its state", check, timeout=90, interval=1)


def test_status_column_equals_kubectl_for_every_pod_state(env: Env) -> None:
    """Guards: STATUS follows kubectl's printPod on real kubelet states (Completed, Error,
    OOMKilled, Init:…, ContainerCreating, NotReady, Terminating), in both modes."""
    wait_for(
        "term running",
        lambda: kubectl_pods(env.fleet, env.ctx, env.ns).get("term", ("", "", 0))[:2] == ("1/1", "Running"),
    )
    env.fleet.core(env.ctx).delete_namespaced_pod("term", env.ns)
    _settled(env)
    try:
        rows = same_as_kubectl(env.fleet, env.ctx, env.ns, env.servers, STATUS)
    finally:
        _force_delete(env.fleet.core(env.ctx), env.ns, "term")
    for name, want in STATUS.items():
        assert rows[name][1] in want, (name, rows[name])
    restarted = [n for n in STATUS if n not in ("initcrash", "term")]
    same_as_kubectl(env.fleet, env.ctx, env.ns, env.servers, restarted, columns=slice(2, 3))
    assert rows["notready"][0] == "0/1" and rows["duo"][0] == "1/2"


def test_restarts_column_of_an_init_crash_loop_equals_kubectl(env: Env) -> None:
    """Guards: the RESTARTS column follows kubectl's printPod for an init container crash loop."""
    _settled(env)
    same_as_kubectl(env.fleet, env.ctx, env.ns, env.servers, ["initcrash"], columns=slice(2, 3), attempts=4)


FAILING = {
    "error": {"Error"},
    "crash": {"CrashLoopBackOff"},
    "oom": {"CrashLoopBackOff"},
    "pull": {"ErrImagePull", "ImagePullBackOff"},
    "config": {"CreateContainerConfigError"},
    "initcrash": {"Init:CrashLoopBackOff"},
    "unsched": {"Unschedulable"},
    "notready": {"NotReady"},
    "duo": {"NotReady"},
    "creating": {"Pending"},
}
"""The triage table's reason for each pod once it has restarted (pending_grace=5 s)."""


def test_failing_pods_classifies_every_state_alike_in_both_modes(env: Env) -> None:
    """Guards: triage of real kubelet states, and the same reasons on demand and with --watch;
    running, completed and Deployment pods are not failing."""
    _settled(env)

    def classified() -> tuple[dict[str, str], dict[str, str]] | None:
        found = [{n: i["reason"] for n, i in s.failing(env.ctx, env.ns).items()} for s in env.servers]
        live, cached = found
        ok = live == cached and set(live) == set(FAILING) and all(live[n] in FAILING[n] for n in live)
        return (live, cached) if ok else None

    try:
        wait_for("both modes classify every pod as the triage table says", classified, timeout=30, interval=1)
    except AssertionError:
        found = [{n: i["reason"] for n, i in s.failing(env.ctx, env.ns).items()} for s in env.servers]
        raise AssertionError(f"on demand {found[0]}\nwatch {found[1]}\nwant {FAILING}") from None
    failing = env.live.failing(env.ctx, env.ns)
    # A real kubelet says OOMKilled, or now and then Error, for the same kill (see STATUS above).
    assert re.search(r"(OOMKilled|Error) \(exit code 137\)", failing["oom"]["message"]), failing["oom"]
    assert "Error (exit code 1)" in failing["crash"]["message"]
    assert 'secret "missing" not found' in failing["config"]["message"]
    assert "didn't match Pod's node affinity/selector" in failing["unsched"]["message"]


def _poke(env: Env, name: str, restarts: int) -> None:
    """Change the pod's metadata: the kubelet syncs it at once and, within its back-off, writes
    waiting CrashLoopBackOff (here it otherwise leaves `terminated` for the whole back-off and
    writes CrashLoopBackOff some 0.1 s before the restart, too short to sample)."""
    body = {"metadata": {"annotations": {"k8s-mcp.example.com/sampled": str(restarts)}}}
    env.fleet.core(env.ctx).patch_namespaced_pod(name, env.ns, body)


def test_a_crash_loop_is_failing_at_every_moment_of_its_cycle(env: Env) -> None:
    """Guards: issue 16 defects 1-3 and 5 on a real kubelet's crash-loop cycle (terminated in a
    Running pod, waiting CrashLoopBackOff, running again). For at least 60 s and both moments of
    two loops (exit 1, OOM kill): STATUS equals kubectl's at each sample, both modes say
    CrashLoopBackOff every time with the last termination named (OOMKilled, exit code 137),
    `previous` logs are the last run's output or an error (never the kubelet's sentence as a
    log), and the --watch journal never says "recovered"."""
    _settled(env)
    started = time.monotonic()
    seen: dict[str, set[str]] = {"crash": set(), "oom": set()}
    poked: set[tuple[str, int]] = set()
    oom_named = previous_logs = kubelet_errors = samples = 0
    while True:
        rows = same_as_kubectl(env.fleet, env.ctx, env.ns, env.servers, seen)
        for name in seen:
            _, status, restarts = rows[name]
            seen[name].add(status)
            if status in ("Error", "OOMKilled") and (name, restarts) not in poked:
                _poke(env, name, restarts)
                poked.add((name, restarts))
        for mode, server in zip(("on demand", "watch"), env.servers, strict=True):
            failing = server.failing(env.ctx, env.ns)
            crash, oom = failing.get("crash"), failing.get("oom")
            assert crash is not None and crash["reason"] == "CrashLoopBackOff", (mode, rows["crash"], crash)
            assert "Error (exit code 1)" in crash["message"], (mode, crash)
            assert oom is not None and oom["reason"] == "CrashLoopBackOff", (mode, rows["oom"], oom)
            # the kubelet says OOMKilled for most OOM kills, Error (137) for some
            assert re.search(r"(OOMKilled|Error) \(exit code 137\)", oom["message"]), (mode, oom)
            oom_named += "OOMKilled (exit code 137)" in oom["message"]
        logs = env.live.call(
            "k8s_get_pod_logs", context=env.ctx, namespace=env.ns, pod="crash", previous=True
        )
        if logs.is_error:  # the kubelet keeps one dead container: "previous" of the Error moment
            assert "could not read the logs" in logs.text, logs.text
            kubelet_errors += 1
        else:
            assert "unable to retrieve container logs" not in logs.text, logs.text
            assert "workload: exiting with code 1" in logs.text, logs.text
            previous_logs += 1
        samples += 1
        elapsed = time.monotonic() - started
        if (
            elapsed >= 60
            and seen["crash"] >= {"Error", "CrashLoopBackOff"}
            and seen["oom"] >= {"CrashLoopBackOff"}
            and seen["oom"] & {"OOMKilled", "Error"}
            and previous_logs
            and oom_named
        ):
            break
        assert elapsed < 150, f"kubectl showed {seen}; previous logs {previous_logs}, OOMKilled {oom_named}"
        time.sleep(1)
    changes = env.cached.changes(env.ctx, env.ns)
    # A pod that sat Pending past the 5 s grace before its first start (image, sandbox, a busy
    # node) truly recovered from that when it started: only a recovery inside the cycle is false.
    recovered = [
        (c["at"], c["name"], c["detail"])
        for c in changes
        if c["name"] in seen and c["change"] == "recovered" and c["detail"] != "was Pending"
    ]
    assert recovered == [], changes
    journal = [(c["change"], c["detail"]) for c in changes if c["name"] == "crash"]
    assert any(what == "started failing" for what, _ in journal), journal
    assert any(what == "restarts rose" for what, _ in journal), journal
    print(f"{samples} samples in {elapsed:.0f}s; kubectl showed {seen}; previous logs {previous_logs}, "
          f"kubelet errors {kubelet_errors}")  # fmt: skip


def test_an_init_container_crash_loop_stays_failing_in_the_journal(env: Env) -> None:
    """Guards: the journal follows the kubelet's cycle for init containers too (defect 2's kind):
    one 'started failing', never 'recovered'."""
    _settled(env)
    changes = env.cached.changes(env.ctx, env.ns)
    init = [(c["change"], c["detail"]) for c in changes if c["name"] == "initcrash"]
    # Pending past the 5 s grace before the first start is a failure of its own (a busy node)
    cycle = [c for c in init if not (c[1] or "").startswith(("Pending", "was Pending"))]
    assert [c for c in cycle if c[0] == "recovered"] == [], init
    assert len([c for c in cycle if c[0] == "started failing"]) == 1, init


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines()[1:] if line]


def test_logs_tail_since_container_and_previous(env: Env) -> None:
    """Guards: logs through a real kubelet: tail, since, the container of a two-container pod,
    and `previous` of a pod that never restarted is an error, not a log."""
    live, ctx, ns = env.live, env.ctx, env.ns
    wait_for(
        "five ticks",
        lambda: "tick 5" in live.call("k8s_get_pod_logs", context=ctx, namespace=ns, pod="running").text,
    )
    tail = live.call("k8s_get_pod_logs", context=ctx, namespace=ns, pod="running", tail=2)
    assert not tail.is_error, tail.text
    ticks = [int(re.fullmatch(r"\S+Z serve running tick (\d+)", line)[1]) for line in _lines(tail.text)]  # type: ignore[index]
    assert len(ticks) == 2 and ticks[1] == ticks[0] + 1, tail.text

    since = live.call("k8s_get_pod_logs", context=ctx, namespace=ns, pod="running", since="3s")
    lines = _lines(since.text)
    assert not since.is_error and 1 <= len(lines) <= 5, since.text
    oldest = datetime.strptime(lines[0].split()[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert oldest >= datetime.now(timezone.utc) - timedelta(seconds=6), since.text

    both = live.call("k8s_get_pod_logs", context=ctx, namespace=ns, pod="duo")
    assert both.is_error and "choose one of: [a b]" in both.text, both.text
    b = live.call("k8s_get_pod_logs", context=ctx, namespace=ns, pod="duo", container="b")
    assert (b.is_error, _lines(b.text)) == (False, ["from b"])
    a = live.call("k8s_get_pod_logs", context=ctx, namespace=ns, pod="duo", container="a", tail=1)
    assert re.fullmatch(r"\S+Z serve duo tick \d+", _lines(a.text)[0]), a.text

    never = live.call("k8s_get_pod_logs", context=ctx, namespace=ns, pod="running", previous=True)
    assert never.is_error, never.text
    assert 'previous terminated container "main" in pod "running" not found' in never.text
    assert never.data["clusters"][0]["status"] == "error" and never.data.get("text") is None


def _exec(env: Env, pod_name: str, command: list[str] | str, **extra: object) -> tuple[float, Answer]:
    started = time.monotonic()
    answer = env.live.call(
        "k8s_pod_exec", context=env.ctx, namespace=env.ns, pod_name=pod_name, command=command, **extra
    )
    return time.monotonic() - started, answer


def _one_line_error(answer: Answer, *words: str) -> str:
    """The cluster's error line of an error answer, which names `words`."""
    assert answer.is_error, answer.text
    (line,) = answer.lines_with("error —")
    assert all(w in line for w in words) and "Traceback" not in answer.text, answer.text
    assert "ValueError" not in answer.text and "Handshake" not in answer.text, answer.text
    return line


def test_exec_argv_exit_codes_errors_timeout_and_output_cap(env: Env) -> None:
    """Guards: issue 16 defect 4, exec reads its status channel: argv and exit codes; a command
    that cannot start (missing binary, `shell` without /bin/sh) is a one-line error, not a
    ValueError; `timeout` holds for a silent command; output is cut at 64 KB; a container that
    is not running is refused in one line."""
    _settled(env)  # run alone, the pods may still be starting
    _, echo = _exec(env, "running", ["/workload", "echo", "hello", "there"])
    assert not echo.is_error, echo.text
    assert echo.data["items"][0]["verb"] == "exited" and echo.data["items"][0]["detail"] == "exit code 0"
    assert echo.data["output"] == "hello there\n"

    _, three = _exec(env, "running", ["/workload", "exit", "3"])
    assert not three.is_error and three.data["items"][0]["detail"] == "exit code 3", three.text
    assert "workload: exiting with code 3" in three.data["output"]

    _, missing = _exec(env, "running", ["/no-such-binary", "x"])
    _one_line_error(missing, "could not run", '"/no-such-binary"', "no such file or directory")
    _, shell = _exec(env, "running", "echo hi", shell=True)  # noqa: S604  (the tool's argument, no local shell)
    _one_line_error(shell, "could not run", '"/bin/sh"', "no such file or directory")

    took, silent = _exec(env, "running", ["/workload", "sleep", "10"], timeout=2)
    assert not silent.is_error and silent.data["items"][0]["verb"] == "timed out", silent.text
    assert took < 4, f"sleep 10 with timeout 2 took {took:.1f}s"

    words = ["x" * 8000] * 10  # one line of 80 009 bytes (an argument may have 128 KiB)
    _, big = _exec(env, "running", ["/workload", "echo", *words])
    assert big.data["items"][0]["verb"] == "cut", big.text
    assert big.data["output"] == " ".join(words)[: 64 * 1024]

    for _ in range(5):  # the crash-looping container runs for milliseconds per cycle
        _, stopped = _exec(env, "crash", ["/workload", "echo", "x"])
        if stopped.is_error:
            break
    _one_line_error(
        stopped, "container main of pod", "crash is not running", "exec needs a running container"
    )


def test_events_of_the_scheduler_controllers_and_kubelet(env: Env) -> None:
    """Guards: events written by real components, including the scheduler's events.k8s.io
    events (eventTime, no lastTimestamp), in k8s_get_events, k8s_describe and on-demand
    k8s_fleet_recent_changes."""
    core = env.fleet.core(env.ctx)

    def scheduled() -> list[object]:
        return [
            e
            for e in core.list_namespaced_event(env.ns).items
            if e.reason == "Scheduled" and e.involved_object.name == "running"
        ]

    (event,) = wait_for("the scheduler's event", scheduled)
    assert event.event_time is not None and event.last_timestamp is None  # type: ignore[attr-defined]
    wanted = {
        ("Pod/running", "Scheduled"),  # scheduler (events.k8s.io)
        ("Pod/unsched", "FailedScheduling"),
        ("Pod/running", "Pulled"),  # kubelet
        ("Pod/running", "Started"),
        ("Pod/crash", "BackOff"),
        ("Pod/pull", "Failed"),
        ("Pod/config", "Failed"),
        ("Deployment/web", "ScalingReplicaSet"),  # deployment controller
    }

    def listed() -> dict[tuple[str, str], dict[str, object]] | None:
        answer = env.live.call("k8s_get_events", context=env.ctx, namespace=env.ns, limit=1000)
        found = {(i["object"], i["reason"]): i for i in answer.data["items"]}
        rs = {k for k in found if k[0].startswith("ReplicaSet/web-") and k[1] == "SuccessfulCreate"}
        return found if wanted <= set(found) and rs else None

    found = wait_for("every component's events in k8s_get_events", listed, timeout=30, interval=1)
    assert found[("Pod/running", "Scheduled")]["last_seen"] is not None
    assert (
        found[("Pod/running", "Scheduled")]["message"]
        == f"Successfully assigned {env.ns}/running to " + (env.fleet.node_names(env.ctx)[0])
    )
    one = env.live.call(
        "k8s_get_events", context=env.ctx, namespace=env.ns, object="pod/running", reason="Scheduled"
    )
    assert [i["reason"] for i in one.data["items"]] == ["Scheduled"]

    described = env.live.call(
        "k8s_describe", resource_type="pod", name="running", context=env.ctx, namespace=env.ns
    )
    assert not described.is_error, described.text
    events = described.text.split("\nEvents:", 1)[1]
    for reason in ("Scheduled", "Pulled", "Created", "Started"):
        assert re.search(rf"\b{reason}\b", events), (reason, events)

    recent = env.live.call(
        "k8s_fleet_recent_changes", context=env.ctx, namespace=env.ns, minutes=10, limit=500
    )
    assert recent.data["source"] == "events", recent.text
    changes = {(c["name"], c["change"]) for c in recent.data["items"]}
    assert {("running", "Scheduled"), ("unsched", "FailedScheduling"), ("crash", "BackOff")} <= changes
