"""Hypothesis strategies for pods in every state triage knows, around a fixed `NOW`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from k8s_multicluster_mcp.model.records import PodRecord, pod_record
from k8s_multicluster_mcp.model.triage import Rules

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
RULES = Rules(pending_grace=300, restart_threshold=3, recent=3600, settle=120)
KEYS = [(ns, name) for ns in ("a", "b") for name in ("p1", "p2", "p3", "p4")]

seconds = st.integers(min_value=-7200, max_value=600)
"""Offsets from NOW of the times a pod carries (mostly past, some just ahead of the clock)."""


def ts(offset: int) -> str:
    return (NOW + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def container_status(draw: st.DrawFn, name: str) -> dict[str, Any]:
    state = draw(
        st.one_of(
            st.builds(lambda t: {"running": {"startedAt": ts(t)}}, seconds),
            st.builds(
                lambda r: {"waiting": {"reason": r, "message": "m"}},
                st.sampled_from(["CrashLoopBackOff", "ErrImagePull", "ContainerCreating", "PodInitializing"]),
            ),
            st.builds(
                lambda r, c, t: {"terminated": {"reason": r, "exitCode": c, "finishedAt": ts(t)}},
                st.sampled_from(["Error", "OOMKilled", "Completed"]),
                st.sampled_from([0, 1, 137]),
                seconds,
            ),
        )
    )
    status: dict[str, Any] = {
        "name": name, "image": "img", "ready": draw(st.booleans()),
        "restartCount": draw(st.integers(0, 6)), "state": state,
    }  # fmt: skip
    if draw(st.booleans()):
        reason = draw(st.sampled_from(["Error", "OOMKilled"]))
        status["lastState"] = {
            "terminated": {"reason": reason, "exitCode": 1, "finishedAt": ts(draw(seconds))}
        }
    return status


@st.composite
def pods(draw: st.DrawFn, key: tuple[str, str] = ("a", "p1")) -> PodRecord:
    meta: dict[str, Any] = {"name": key[1], "namespace": key[0], "creationTimestamp": ts(draw(seconds))}
    if draw(st.integers(0, 5)) == 0:
        meta["deletionTimestamp"] = ts(draw(seconds))
        meta["deletionGracePeriodSeconds"] = draw(st.sampled_from([0, 30]))
    conditions = [{"type": "Ready", "status": draw(st.sampled_from(["True", "False"])),
                   "lastTransitionTime": ts(draw(seconds))}]  # fmt: skip
    if draw(st.booleans()):
        conditions.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable"})
    status = {
        "phase": draw(st.sampled_from(["Pending", "Running", "Running", "Failed", "Succeeded"])),
        "startTime": ts(draw(seconds)),
        "conditions": conditions,
        "containerStatuses": [draw(container_status(name)) for name in ("app", "side")[: draw(st.integers(1, 2))]],
    }  # fmt: skip
    if draw(st.booleans()):
        status["initContainerStatuses"] = [draw(container_status("init"))]
    spec = {"containers": [{"name": "app", "image": "img"}, {"name": "side", "image": "img"}],
            "initContainers": [{"name": "init", "image": "img"}]}  # fmt: skip
    record = pod_record("cp-1", {"metadata": meta, "spec": spec, "status": status})
    assert isinstance(record, PodRecord)
    return record
