"""The watch journal over the state sequences real kubelets and controllers write: no false
recoveries during a crash loop, deletions said as such, rollouts finished once and not early."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

from k8s_multicluster_mcp.model.changes import ChangeJournal
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import Record, deployment_record, pod_record
from k8s_multicluster_mcp.model.triage import Rules

START = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def ts(self, seconds_ago: float = 0) -> str:
        return (self.now - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(clock: Clock, state: dict[str, Any], *, restarts: int = 0, ready: bool = False,
        last: dict[str, Any] | None = None, deleting: bool = False) -> Record:  # fmt: skip
    meta: dict[str, Any] = {"name": "p", "namespace": "ns", "creationTimestamp": clock.ts(3600)}
    if deleting:
        meta["deletionTimestamp"] = clock.ts()
    status = {"name": "app", "ready": ready, "restartCount": restarts, "state": state,
              **({"lastState": {"terminated": last}} if last else {})}  # fmt: skip
    conditions = [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": clock.ts()}]
    raw = {"metadata": meta, "spec": {"containers": [{"name": "app", "image": "w"}]},
           "status": {"phase": "Running", "conditions": conditions, "containerStatuses": [status]}}  # fmt: skip
    return pod_record("cp-1", raw)


def words(journal: ChangeJournal, clock: Clock) -> list[str]:
    return [f"{c.change}: {c.detail}" for c in reversed(journal.since(START, {"cp-1"}))]


def test_a_crash_loop_never_recovers_until_it_runs_and_stays_up() -> None:
    clock = Clock()
    journal = ChangeJournal(Rules(), clock=clock)
    current = pod(clock, {"running": {"startedAt": clock.ts()}}, ready=True)
    journal.record("cp-1", Kind.POD, None, current)
    for cycle in range(4):
        crash = {"reason": "Error", "exitCode": 1, "finishedAt": clock.ts()}
        states = [
            pod(clock, {"terminated": crash}, restarts=cycle),
            pod(
                clock,
                {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}},
                restarts=cycle,
                last=crash,
            ),
            pod(clock, {"running": {"startedAt": clock.ts()}}, restarts=cycle + 1, last=crash),
            pod(clock, {"running": {"startedAt": clock.ts()}}, restarts=cycle + 1, ready=True, last=crash),
        ]
        for new in states:
            clock.now += timedelta(seconds=15)
            journal.record("cp-1", Kind.POD, current, new)
            current = new
    said = words(journal, clock)
    assert not any(w.startswith("recovered") for w in said), said
    assert said[0] == "started failing: Error: app: Error (exit code 1) 15s ago"
    assert [w.split(":")[0] for w in said if w.startswith("started failing")] == ["started failing"], (
        "Error, then CrashLoopBackOff, is one failure"
    )
    # It then stays up: once it has run `settle` seconds, the journal says it recovered, then.
    clock.now += timedelta(seconds=Rules().settle + 1)
    assert words(journal, clock)[-1] == "recovered: was CrashLoopBackOff"


def test_deleting_a_failing_pod_is_deleted_not_recovered() -> None:
    clock = Clock()
    journal = ChangeJournal(Rules(), clock=clock)
    crash = {"reason": "Error", "exitCode": 1, "finishedAt": clock.ts(30)}
    failing = pod(clock, {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=3, last=crash)
    deleting = pod(clock, {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=3, last=crash, deleting=True)
    journal.record("cp-1", Kind.POD, None, failing)
    journal.record("cp-1", Kind.POD, failing, deleting)
    journal.record("cp-1", Kind.POD, deleting, None)
    said = words(journal, clock)
    assert said[1:] == ["deleted: was CrashLoopBackOff"], said
    assert said[0].startswith("started failing: CrashLoopBackOff")


def deployment(generation: int, observed: int, *, spec: int = 3, replicas: int, updated: int,
               available: int) -> Record:  # fmt: skip
    raw = {"metadata": {"name": "web", "namespace": "ns", "generation": generation},
           "spec": {"replicas": spec, "template": {"spec": {"containers": [{"name": "app", "image": "w:2"}]}}},
           "status": {"observedGeneration": observed, "replicas": replicas, "updatedReplicas": updated,
                      "readyReplicas": available, "availableReplicas": available}}  # fmt: skip
    return deployment_record("cp-1", raw)


def test_a_rollout_finishes_once_when_the_old_pods_are_gone() -> None:
    clock = Clock()
    journal = ChangeJournal(Rules(), clock=clock)
    sequence = [
        deployment(1, 1, replicas=3, updated=3, available=3),
        deployment(2, 1, replicas=3, updated=3, available=3),
        deployment(2, 2, replicas=4, updated=1, available=3),
        deployment(2, 2, replicas=4, updated=2, available=3),
        deployment(2, 2, replicas=4, updated=3, available=3),  # surge: new pods ready, one old left
        deployment(2, 2, replicas=3, updated=3, available=3),
    ]
    for old, new in itertools.pairwise(sequence):
        clock.now += timedelta(seconds=10)
        journal.record("cp-1", Kind.DEPLOYMENT, old, new)
    changes = list(reversed(journal.since(START, {"cp-1"})))
    assert [c.change for c in changes] == ["rollout started", "rollout finished"]
    assert changes[-1].at == clock.now, "finished when the last old pod is gone, not during the surge"


def test_a_pull_that_fails_then_backs_off_started_failing_once() -> None:
    clock = Clock()
    journal = ChangeJournal(Rules(), clock=clock)
    states = [
        pod(clock, {"waiting": {"reason": "ContainerCreating"}}),
        pod(clock, {"waiting": {"reason": "ErrImagePull", "message": "failed to pull"}}),
        pod(clock, {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}),
        pod(clock, {"waiting": {"reason": "ErrImagePull", "message": "failed to pull"}}),
        pod(clock, {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}),
    ]
    for old, new in itertools.pairwise(states):
        clock.now += timedelta(seconds=10)
        journal.record("cp-1", Kind.POD, old, new)
    assert [w.split(":")[0] for w in words(journal, clock)] == ["started failing"]
