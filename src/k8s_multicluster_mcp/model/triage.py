"""Failure triage: is a pod failing, and why, in the words `kubectl get pods` uses.

Pure functions of a record and the clock (no cluster, no source), so both modes classify alike
and every row of the table is unit-tested with a fixed `now`. The table, first match wins:

| pod state | reason |
|---|---|
| deletionTimestamp older than its grace period plus `pending_grace` | `Terminating` |
| phase Failed with status.reason Evicted | `Evicted` |
| phase Failed otherwise | status.reason, else the terminated container's reason, else `Failed` |
| an init container waiting with a reason in `WAITING_REASONS` | `Init:` + that reason |
| an init container that exited non-zero, pod not finished | `Init:` + the main-container rule's word |
| a container waiting with a reason in `WAITING_REASONS` | that reason |
| a container terminated, pod not finished (to be restarted), restarted before | `CrashLoopBackOff` |
| the same, never restarted yet, not exit 0 | `OOMKilled`, else kubectl's word: `Error`, `ExitCode:N` |
| a restarted container running again for less than `settle` | (`Init:`)`CrashLoopBackOff` |
| a container's last termination OOMKilled within `recent` | `OOMKilled` |
| Pending with PodScheduled=False, reason Unschedulable | `Unschedulable` |
| Pending for any other cause, created more than `pending_grace` ago | `Pending` |
| Running with a container not ready, Ready=False for more than `pending_grace` | `NotReady` |
| Running and ready, restarts >= `restart_threshold`, the last one within `recent` | `Restarting` |

Never reported: Running+Ready pods below the restart rule, Succeeded pods, pods being deleted
within their grace period, and pods merely Pending for less than `pending_grace`.

A real kubelet moves a crash-looping container through running -> terminated (10-45 s, pod
still Running) -> waiting CrashLoopBackOff -> running; the rows above keep such a pod failing, under
one reason, at every moment of that cycle, and its message names the last termination (reason,
exit code), which the kubelet's own back-off message does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from k8s_multicluster_mcp.model.records import Condition, ContainerStatus, PodRecord

WAITING_REASONS = frozenset(
    {
        "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
        "CreateContainerError", "InvalidImageName", "RunContainerError",
    }
)  # fmt: skip

_SEVERITY = {
    "OOMKilled": 0, "CrashLoopBackOff": 0,
    "ImagePullBackOff": 1, "ErrImagePull": 1, "InvalidImageName": 1, "CreateContainerConfigError": 1,
    "CreateContainerError": 1, "RunContainerError": 1,
    "Evicted": 3, "Unschedulable": 4, "NotReady": 5, "Pending": 6, "Terminating": 7, "Restarting": 8,
}  # fmt: skip
_FAILED = 2
"""Severity of a Failed pod's own reason (Error, DeadlineExceeded, …)."""


@dataclass(frozen=True)
class Rules:
    """The thresholds of the table (flags `--pending-grace` and `--restart-threshold`)."""

    pending_grace: float = 300.0
    restart_threshold: int = 5
    recent: float = 3600.0
    """How recent an OOM kill or a restart must be to count."""
    settle: float = 120.0
    """How long a restarted container must run before its pod stops counting as crash-looping
    (a real crash loop runs for a few seconds between back-offs of up to 5 minutes)."""


Said = tuple[str | datetime, ...]
"""A message with its times kept as instants: each datetime is said as how long before the
reader's `now` it was ("40s", "7m"). A pod classified once (`model.failing`) thus reads right at
every later question without being classified again."""


def say(words: Said, now: datetime) -> str | None:
    """`words` as read at `now` (None when there are none)."""
    # A list, not a generator: `join` makes one of either way (a question reads 100s of these).
    return "".join([w if isinstance(w, str) else _ago(now, w) for w in words]) or None


@dataclass(frozen=True, slots=True)
class Failure:
    reason: str
    since: datetime | None
    """When the pod entered this state, as far as the API says (for "most recent first")."""
    said: Said = ()

    def message(self, now: datetime) -> str | None:
        """The message as read at `now`."""
        return say(self.said, now)


def severity(reason: str) -> int:
    """Lower is worse: crash loops and OOM kills first, slow restarts last."""
    return _SEVERITY.get(reason.removeprefix("Init:"), _FAILED)


def _condition(pod: PodRecord, kind: str) -> Condition | None:
    return next((c for c in pod.conditions if c.type == kind), None)


def _ago(now: datetime, when: datetime) -> str:
    seconds = int((now - when).total_seconds())
    return f"{seconds // 60}m" if seconds >= 60 else f"{seconds}s"


def _exit(reason: str | None, code: int | None) -> str:
    words = reason or "Error"
    return f"{words} (exit code {code})" if code is not None else words


def _ago_said(when: datetime | None) -> Said:
    """ " 40s ago", or nothing when `when` is unknown."""
    return (" ", when, " ago") if when else ()


def _last_exit(c: ContainerStatus) -> Said:
    """ "last exit: OOMKilled (exit code 137) 40s ago" from the container's last termination."""
    if c.last_reason is None and c.last_exit_code is None:
        return ()
    return (f"last exit: {_exit(c.last_reason, c.last_exit_code)}", *_ago_said(c.last_finished_at))


def _joined(*parts: Said) -> Said:
    """The non-empty `parts`, "; " between them."""
    out: list[str | datetime] = []
    for part in parts:
        if part:
            out += ["; ", *part] if out else part
    return tuple(out)


def _terminated(c: ContainerStatus) -> Failure | None:
    """A container that ended in a pod that is not finished: the kubelet restarts it (a crash
    loop once it has been restarted), or it exited 0 and is simply done."""
    ended = (f"{c.name}: {_exit(c.reason, c.exit_code)}", *_ago_said(c.finished_at))
    if c.restart_count:
        restarting = f", restarting ({c.restart_count} restarts)"
        return Failure("CrashLoopBackOff", c.finished_at, (*ended, restarting))
    if c.reason == "OOMKilled":
        return Failure("OOMKilled", c.finished_at, (f"container {c.name} was OOMKilled",))
    if c.exit_code == 0:
        return None
    return Failure(c.reason or f"ExitCode:{c.exit_code}", c.finished_at, ended)


def _text(message: str | None) -> Said:
    return (message,) if message else ()


def classify(pod: PodRecord, now: datetime, rules: Rules | None = None) -> Failure | None:
    """Why `pod` is failing at `now`, or None when it is not."""
    rules = rules or Rules()
    grace = timedelta(seconds=rules.pending_grace)
    recent = timedelta(seconds=rules.recent)
    settle = timedelta(seconds=rules.settle)
    if pod.deleting_since is not None:
        if now - pod.deleting_since > timedelta(seconds=pod.grace_seconds) + grace:
            return Failure(
                "Terminating", pod.deleting_since, ("deletion requested", *_ago_said(pod.deleting_since))
            )
        return None
    if pod.phase == "Succeeded":
        return None
    main = [c for c in pod.containers if not c.init]
    if pod.phase == "Failed":
        terminated = next((c for c in pod.containers if c.state == "terminated" and c.reason), None)
        finished = max((c.finished_at for c in pod.containers if c.finished_at), default=None)
        if pod.reason == "Evicted":
            return Failure("Evicted", finished or pod.started, _text(pod.message))
        reason = pod.reason or (terminated.reason if terminated else None) or "Failed"
        message = pod.message or (terminated.message if terminated else None)
        return Failure(reason, finished or pod.started, _text(message))
    for init in (True, False):
        for c in pod.containers:
            if c.init is init and c.state == "waiting" and c.reason in WAITING_REASONS:
                since = c.last_finished_at or pod.started or pod.created
                said = _joined(_last_exit(c), _text(c.message))
                return Failure(("Init:" if init else "") + c.reason, since, said)
        for c in pod.containers:
            if c.init is init and c.state == "terminated" and (c.exit_code != 0 or not init):
                failure = _terminated(c)
                if failure is not None:
                    return Failure(("Init:" if init else "") + failure.reason, failure.since, failure.said)
    for c in pod.containers:
        if c.state == "running" and c.restart_count and c.started_at and now - c.started_at < settle:
            said = _joined(("running again for ", c.started_at), _last_exit(c))
            reason = "Init:CrashLoopBackOff" if c.init else "CrashLoopBackOff"
            return Failure(reason, c.last_finished_at or c.started_at, said)
    for c in main:
        if c.last_reason == "OOMKilled" and c.last_finished_at and now - c.last_finished_at <= recent:
            restarts = f" ago ({c.restart_count} restarts)"
            said = (f"container {c.name} OOMKilled ", c.last_finished_at, restarts)
            return Failure("OOMKilled", c.last_finished_at, said)
    if pod.phase == "Pending":
        scheduled = _condition(pod, "PodScheduled")
        if scheduled and scheduled.status == "False" and scheduled.reason == "Unschedulable":
            return Failure(
                "Unschedulable", scheduled.last_transition or pod.created, _text(scheduled.message)
            )
        if pod.created is not None and now - pod.created > grace:
            return Failure("Pending", pod.created, _text(pod.message) or ("pending for ", pod.created))
        return None
    if pod.phase != "Running":
        return None
    if not all(c.ready for c in main):
        ready = _condition(pod, "Ready")
        since = ready.last_transition if ready is not None and ready.status == "False" else pod.started
        if since is not None and now - since > grace:
            names = ", ".join(c.name for c in main if not c.ready)
            return Failure(
                "NotReady", since, _text(ready.message if ready else None) or (f"not ready: {names}",)
            )
        return None
    last = max((c.last_finished_at for c in main if c.last_finished_at), default=None)
    if pod.restarts >= rules.restart_threshold and last is not None and now - last <= recent:
        return Failure("Restarting", last, (f"{pod.restarts} restarts, the last ", last, " ago"))
    return None


def changes_at(pod: PodRecord, rules: Rules) -> list[datetime]:
    """Every instant at which the clock alone may change `classify`'s reason for `pod` (a
    superset): between two of them the reason stays the same, so a classification made at `now`
    holds until the first of these after `now` (`model.failing` keeps pods classified that way)."""
    grace = timedelta(seconds=rules.pending_grace)
    recent = timedelta(seconds=rules.recent)
    out = []
    if pod.deleting_since is not None:
        out.append(pod.deleting_since + timedelta(seconds=pod.grace_seconds) + grace)
    if pod.created is not None:
        out.append(pod.created + grace)
    if pod.started is not None:
        out.append(pod.started + grace)
    ready = _condition(pod, "Ready")
    if ready is not None and ready.last_transition is not None:
        out.append(ready.last_transition + grace)
    for c in pod.containers:
        if c.restart_count and c.started_at is not None:
            out.append(c.started_at + timedelta(seconds=rules.settle))
        if c.last_finished_at is not None:
            out.append(c.last_finished_at + recent)
    return out


def owner(pod: PodRecord) -> str | None:
    """`Kind/name` of the pod's controller; a Deployment's ReplicaSet is shown as the Deployment."""
    if pod.owner_kind is None or pod.owner_name is None:
        return None
    template_hash = pod.labels.get("pod-template-hash")
    if pod.owner_kind == "ReplicaSet" and template_hash and pod.owner_name.endswith(f"-{template_hash}"):
        return f"Deployment/{pod.owner_name[: -len(template_hash) - 1]}"
    return f"{pod.owner_kind}/{pod.owner_name}"


__all__ = [
    "WAITING_REASONS",
    "Failure",
    "Rules",
    "Said",
    "changes_at",
    "classify",
    "owner",
    "say",
    "severity",
]
