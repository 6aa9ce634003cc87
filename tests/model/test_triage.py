"""The failure triage table, row by row, and the states it never reports; time is fixed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from k8s_multicluster_mcp.model.records import PodRecord, pod_record
from k8s_multicluster_mcp.model.triage import Rules, classify, owner, severity

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
RULES = Rules(pending_grace=300, restart_threshold=5)


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def container(state: dict[str, Any], *, ready: bool = False, restarts: int = 0, last: dict[str, Any] | None = None,
              name: str = "app") -> dict[str, Any]:  # fmt: skip
    return {"name": name, "image": "nginx", "ready": ready, "restartCount": restarts, "state": state,
            **({"lastState": last} if last else {})}  # fmt: skip


def pod(status: dict[str, Any], *, created: float = 3600, meta: dict[str, Any] | None = None,
        init: bool = False) -> PodRecord:  # fmt: skip
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx"}]}
    if init:
        spec["initContainers"] = [{"name": "init", "image": "busybox"}]
    raw = {"metadata": {"name": "p", "namespace": "ns", "creationTimestamp": ts(created), **(meta or {})},
           "spec": spec, "status": status}  # fmt: skip
    record = pod_record("cp-1", raw)
    assert isinstance(record, PodRecord)
    return record


RUNNING = {"running": {"startedAt": ts(3000)}}
READY = [{"type": "Ready", "status": "True", "lastTransitionTime": ts(3000)}]


def reason(record: PodRecord) -> str | None:
    failure = classify(record, NOW, RULES)
    return failure.reason if failure else None


@pytest.mark.parametrize(
    "waiting",
    ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "CreateContainerError",
     "InvalidImageName", "RunContainerError"],
)  # fmt: skip
def test_a_waiting_container_gives_its_reason(waiting: str) -> None:
    assert (
        reason(pod({"phase": "Running", "containerStatuses": [container({"waiting": {"reason": waiting}})]}))
        == waiting
    )


def test_an_init_container_waiting_is_prefixed() -> None:
    status = {"phase": "Pending", "initContainerStatuses": [container({"waiting": {"reason": "CrashLoopBackOff"}}, name="init")],
              "containerStatuses": [container({"waiting": {"reason": "PodInitializing"}})]}  # fmt: skip
    assert reason(pod(status, init=True)) == "Init:CrashLoopBackOff"


def test_oomkilled_now_or_within_the_hour() -> None:
    now_killed = {
        "phase": "Running",
        "containerStatuses": [container({"terminated": {"reason": "OOMKilled", "finishedAt": ts(5)}})],
    }
    assert reason(pod(now_killed)) == "OOMKilled"
    last = {"terminated": {"reason": "OOMKilled", "finishedAt": ts(600)}}
    recovered = {"phase": "Running", "conditions": READY,
                 "containerStatuses": [container(RUNNING, ready=True, restarts=1, last=last)]}  # fmt: skip
    assert reason(pod(recovered)) == "OOMKilled", "looks Running with a restart in any list"
    last_old = {"terminated": {"reason": "OOMKilled", "finishedAt": ts(7200)}}
    long_ago = {"phase": "Running", "conditions": READY,
                "containerStatuses": [container(RUNNING, ready=True, restarts=1, last=last_old)]}  # fmt: skip
    assert reason(pod(long_ago)) is None


def test_evicted_and_other_failures() -> None:
    assert reason(pod({"phase": "Failed", "reason": "Evicted", "message": "low on memory"})) == "Evicted"
    assert reason(pod({"phase": "Failed", "reason": "DeadlineExceeded"})) == "DeadlineExceeded"
    terminated = {
        "phase": "Failed",
        "containerStatuses": [container({"terminated": {"reason": "Error", "exitCode": 2}})],
    }
    assert reason(pod(terminated)) == "Error"
    assert reason(pod({"phase": "Failed"})) == "Failed"


def test_unschedulable_and_pending() -> None:
    unschedulable = {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
    }
    assert reason(pod(unschedulable, created=10)) == "Unschedulable", (
        "no grace for a pod that cannot be scheduled"
    )
    assert reason(pod({"phase": "Pending"}, created=301)) == "Pending"


def test_not_ready_for_longer_than_the_grace() -> None:
    def not_ready(since: float) -> PodRecord:
        return pod({"phase": "Running", "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": ts(since)}],
                    "containerStatuses": [container(RUNNING)]})  # fmt: skip

    assert reason(not_ready(301)) == "NotReady"
    assert reason(not_ready(299)) is None


def test_terminating_past_its_grace_period_plus_the_pending_grace() -> None:
    def deleting(since: float) -> PodRecord:
        meta = {"deletionTimestamp": ts(since), "deletionGracePeriodSeconds": 30}
        return pod(
            {"phase": "Running", "conditions": READY, "containerStatuses": [container(RUNNING, ready=True)]},
            meta=meta,
        )

    assert reason(deleting(331)) == "Terminating"
    assert reason(deleting(329)) is None


def test_restarting_needs_the_threshold_and_a_recent_restart() -> None:
    def restarting(restarts: int, last_ago: float) -> PodRecord:
        last = {"terminated": {"reason": "Error", "finishedAt": ts(last_ago)}}
        return pod({"phase": "Running", "conditions": READY,
                    "containerStatuses": [container(RUNNING, ready=True, restarts=restarts, last=last)]})  # fmt: skip

    assert reason(restarting(5, 600)) == "Restarting"
    assert reason(restarting(4, 600)) is None
    assert reason(restarting(9, 4000)) is None


@pytest.mark.parametrize(
    "status",
    [
        {"phase": "Running", "conditions": READY, "containerStatuses": [container(RUNNING, ready=True)]},
        {
            "phase": "Succeeded",
            "containerStatuses": [container({"terminated": {"reason": "Completed", "exitCode": 0}})],
        },
        {"phase": "Pending"},
    ],
    ids=["running-ready", "succeeded", "young-pending"],
)
def test_never_reported(status: dict[str, Any]) -> None:
    assert reason(pod(status, created=60)) is None


def test_a_deployment_pod_is_attributed_to_the_deployment() -> None:
    meta = {"labels": {"pod-template-hash": "5d8f7"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d8f7", "controller": True}]}  # fmt: skip
    assert owner(pod({"phase": "Running"}, meta=meta)) == "Deployment/web"
    job = {"ownerReferences": [{"kind": "Job", "name": "nightly-1", "controller": True}]}
    assert owner(pod({"phase": "Running"}, meta=job)) == "Job/nightly-1"


def test_severity_orders_crash_loops_before_slow_restarts() -> None:
    ordered = sorted(
        ["Restarting", "Pending", "OOMKilled", "Evicted", "ImagePullBackOff", "Init:CrashLoopBackOff"],
        key=severity,
    )
    assert ordered[:2] == ["OOMKilled", "Init:CrashLoopBackOff"]
    assert ordered[-1] == "Restarting"


def crash_cycle(restarts: int = 4, reason_: str = "Error", code: int = 1) -> dict[str, dict[str, Any]]:
    """One container's states through a real kubelet's crash-loop cycle, in order."""
    last = {"terminated": {"reason": reason_, "exitCode": code, "finishedAt": ts(50)}}
    return {
        "terminated": {"phase": "Running", "containerStatuses": [container(
            {"terminated": {"reason": reason_, "exitCode": code, "startedAt": ts(20), "finishedAt": ts(12)}},
            restarts=restarts, last=last)]},
        "back-off": {"phase": "Running", "containerStatuses": [container(
            {"waiting": {"reason": "CrashLoopBackOff",
                         "message": "back-off 40s restarting failed container=app pod=p_ns(u)"}},
            restarts=restarts, last={"terminated": {"reason": reason_, "exitCode": code, "finishedAt": ts(12)}})]},
        "running-again": {"phase": "Running", "conditions": READY, "containerStatuses": [container(
            {"running": {"startedAt": ts(3)}}, ready=True, restarts=restarts + 1,
            last={"terminated": {"reason": reason_, "exitCode": code, "finishedAt": ts(5)}})]},
    }  # fmt: skip


@pytest.mark.parametrize("moment", ["terminated", "back-off", "running-again"])
def test_a_crash_loop_is_failing_at_every_moment_of_the_kubelets_cycle(moment: str) -> None:
    failure = classify(pod(crash_cycle()[moment]), NOW, RULES)
    assert failure is not None and failure.reason == "CrashLoopBackOff", moment
    assert "Error (exit code 1)" in (failure.message(NOW) or ""), "the line names the last termination"


def test_an_oom_loop_names_oomkilled_and_its_exit_code_in_the_crashloop_line() -> None:
    for moment, status in crash_cycle(reason_="OOMKilled", code=137).items():
        failure = classify(pod(status), NOW, RULES)
        assert failure is not None and failure.reason == "CrashLoopBackOff", moment
        assert "OOMKilled (exit code 137)" in (failure.message(NOW) or ""), moment
    back_off = classify(pod(crash_cycle(reason_="OOMKilled", code=137)["back-off"]), NOW, RULES)
    assert back_off is not None
    assert back_off.message(NOW) == (
        "last exit: OOMKilled (exit code 137) 12s ago; back-off 40s restarting failed container=app pod=p_ns(u)"
    )


def test_the_first_crash_before_any_restart_reads_as_kubectl_says_it() -> None:
    first = {"phase": "Running", "containerStatuses": [
        container({"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": ts(5)}})]}  # fmt: skip
    assert reason(pod(first)) == "Error"
    no_reason = {"phase": "Running", "containerStatuses": [
        container({"terminated": {"exitCode": 3, "finishedAt": ts(5)}})]}  # fmt: skip
    assert reason(pod(no_reason)) == "ExitCode:3"
    done = {"phase": "Running", "containerStatuses": [
        container({"terminated": {"reason": "Completed", "exitCode": 0, "finishedAt": ts(5)}})]}  # fmt: skip
    assert reason(pod(done)) is None, "a container that exited 0 and was never restarted is done"


def test_a_restarted_container_counts_as_recovered_only_after_it_settled() -> None:
    def running_for(seconds: float) -> PodRecord:
        last = {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": ts(seconds + 10)}}
        return pod({"phase": "Running", "conditions": READY, "containerStatuses": [
            container({"running": {"startedAt": ts(seconds)}}, ready=True, restarts=2, last=last)]})  # fmt: skip

    assert reason(running_for(RULES.settle - 1)) == "CrashLoopBackOff"
    assert reason(running_for(RULES.settle + 1)) is None


def test_an_init_container_crash_cycle_stays_init_crashloopbackoff() -> None:
    status = {"phase": "Pending", "initContainerStatuses": [container(
        {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": ts(5)}}, restarts=2, name="init")],
        "containerStatuses": [container({"waiting": {"reason": "PodInitializing"}})]}  # fmt: skip
    assert reason(pod(status, init=True)) == "Init:CrashLoopBackOff"


def test_a_restarted_init_container_running_again_stays_init_crashloopbackoff() -> None:
    status = {"phase": "Pending", "initContainerStatuses": [container(
        {"running": {"startedAt": ts(2)}}, restarts=3, name="init",
        last={"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": ts(4)}})],
        "containerStatuses": [container({"waiting": {"reason": "PodInitializing"}})]}  # fmt: skip
    record = pod(status, init=True)
    assert reason(record) == "Init:CrashLoopBackOff"
    assert record.restarts == 3, "kubectl counts the init container's restarts while it initializes"
