"""What changed lately across the fleet.

In watch mode every change the watch stores see (old record -> new record) goes through `derive`,
and what matters lands in a bounded `ChangeJournal`: pods that started failing or recovered,
restart counts that rose, failing pods that were deleted, rollouts that started, finished or
stalled, nodes whose readiness changed. In on-demand mode there is no stream to learn from, so
the same question is answered from the Events API (`events_as_changes`); the answer says which.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.model import rollouts, triage
from k8s_multicluster_mcp.model.health import node_readiness
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import DeploymentRecord, EventRecord, NodeRecord, PodRecord, Record

JOURNAL_SIZE = 20_000


@dataclass(frozen=True, slots=True)
class Change:
    """Slots: the journal keeps `JOURNAL_SIZE` of these, each about 100 bytes instead of 150."""

    at: datetime
    context: str
    kind: str
    namespace: str
    name: str
    change: str
    detail: str | None = None


def _kept(
    at: datetime, context: str, kind: str, namespace: str, name: str, what: str, detail: str | None
) -> Change:
    """A change the journal may keep, its strings interned: every watch event decodes its own copy
    of a pod's namespace and name (and `Kind.singular` makes a new string), so without interning
    20,000 entries would hold 20,000 copies of a few namespaces, kinds and repeated details."""
    return Change(
        at,
        context,
        sys.intern(kind),
        sys.intern(namespace),
        sys.intern(name),
        what,
        None if detail is None else sys.intern(detail),
    )


def _rollout_done(d: DeploymentRecord) -> bool:
    """Done as `kubectl rollout status` judges it (`rollouts.deployment_status`): during a surge
    the old pods still count in status.replicas, so "all new pods available" is not yet done."""
    if d.observed_generation < d.generation:
        return False
    done, _ = rollouts.deployment_status(
        d.name,
        wanted=d.replicas,
        updated=d.updated_replicas,
        replicas=d.status_replicas,
        available=d.available_replicas,
    )
    return done


def _stalled(d: DeploymentRecord) -> str | None:
    condition = next((c for c in d.conditions if c.type == "Progressing" and c.status == "False"), None)
    return (condition.reason or "not progressing") if condition else None


_FAMILIES = {"ImagePullBackOff": "ErrImagePull", "Error": "CrashLoopBackOff", "OOMKilled": "CrashLoopBackOff"}
"""Reasons a kubelet alternates between within one failure (a pull that fails, then backs off;
a container that exits, then backs off): a pod moving between them did not start failing again."""


def _family(reason: str) -> str:
    bare = reason.removeprefix("Init:")
    family = _FAMILIES.get(bare, "CrashLoopBackOff" if bare.startswith("ExitCode:") else bare)
    return reason[: len(reason) - len(bare)] + family


def derive(
    context: str, kind: Kind, old: Record | None, new: Record | None, now: datetime, rules: triage.Rules
) -> list[Change]:
    """The changes worth telling a person about in one old -> new transition of one object."""
    current = new or old
    if current is None:
        return []
    namespace = getattr(current, "namespace", "")

    def change(what: str, detail: str | None = None) -> Change:
        return _kept(now, context, kind.singular, namespace, current.name, what, detail)

    out: list[Change] = []
    if (
        kind is Kind.POD
        and isinstance(old, PodRecord)
        and (new is None or getattr(new, "deleting_since", None))
    ):
        # A failing pod that is deleted did not recover: say "deleted", once (when its deletion
        # starts, or when it vanishes without a graceful deletion).
        before = triage.classify(old, now, rules)
        if before is not None and (old.deleting_since is None or new is None):
            out.append(change("deleted", f"was {before.reason}"))
    elif kind is Kind.POD and isinstance(new, PodRecord):
        before = triage.classify(old, now, rules) if isinstance(old, PodRecord) else None
        after = triage.classify(new, now, rules)
        if after is not None and (before is None or _family(before.reason) != _family(after.reason)):
            message = after.message(now)
            out.append(change("started failing", after.reason + (f": {message}" if message else "")))
        elif after is None and before is not None:
            out.append(change("recovered", f"was {before.reason}"))
        if isinstance(old, PodRecord) and new.restarts > old.restarts:
            out.append(change("restarts rose", f"{old.restarts} -> {new.restarts}"))
    elif kind is Kind.DEPLOYMENT and isinstance(new, DeploymentRecord) and isinstance(old, DeploymentRecord):
        images = [c.image for c in new.containers if not c.init]
        if new.generation > old.generation:
            out.append(change("rollout started", f"generation {new.generation}: {', '.join(images)}"))
        if _rollout_done(new) and not _rollout_done(old):
            out.append(change("rollout finished", f"{new.available_replicas}/{new.replicas} available"))
        stalled = _stalled(new)
        if stalled and not _stalled(old):
            out.append(change("rollout stalled", stalled))
    elif (
        kind is Kind.NODE
        and isinstance(new, NodeRecord)
        and isinstance(old, NodeRecord)
        and new.ready != old.ready
    ):
        out.append(change("readiness changed", f"{node_readiness(old)} -> {node_readiness(new)}"))
    return out


class ChangeJournal:
    """The last `size` changes of every watched context; fed by the watch stores' listener."""

    def __init__(
        self,
        rules: triage.Rules | None = None,
        size: int = JOURNAL_SIZE,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._rules = rules or triage.Rules()
        self._clock = clock
        self._lock = threading.Lock()
        self._changes: deque[Change] = deque(maxlen=size)
        self._recorded = 0
        """Changes ever kept (settled recoveries included): what `changed_kinds` counts from."""
        self._settling: dict[tuple[str, str, str], Change] = {}
        """Pods that will have recovered at `Change.at` unless another change of theirs comes:
        a restarted container counts as crash-looping until it has run `Rules.settle` seconds,
        and no watch event marks that moment."""

    def record(self, context: str, kind: Kind, old: Record | None, new: Record | None) -> None:
        """`sources.watch.store.ChangeListener`: called by the stores for every change."""
        now = self._clock()
        found = derive(context, kind, old, new, now, self._rules)
        settled = _settles(new, now, self._rules) if kind is Kind.POD else None
        current = new or old
        key = (context, getattr(current, "namespace", ""), current.name if current else "")
        if not found and settled is None and key not in self._settling:
            return
        with self._lock:
            self._settle(now)
            self._changes.extend(found)
            self._recorded += len(found)
            if settled is None:
                self._settling.pop(key, None)
            else:
                self._settling[key] = settled

    def _settle(self, now: datetime) -> None:
        """Move the recoveries whose time has come into the journal (lock held)."""
        due = [key for key, change in self._settling.items() if change.at <= now]
        for key in due:
            self._changes.append(self._settling.pop(key))
        self._recorded += len(due)

    def changed_kinds(self, mark: int) -> tuple[int, set[str]]:
        """The kinds of the changes kept since `mark` (a count this returned before; 0 at first),
        and the new mark: what a subscriber to the fleet's state needs to hear about."""
        with self._lock:
            self._settle(self._clock())
            new = min(self._recorded - mark, len(self._changes))
            kinds = {c.kind for c in list(self._changes)[len(self._changes) - new :]} if new > 0 else set()
            return self._recorded, kinds

    def since(self, when: datetime, contexts: set[str], namespace: str | None = None) -> list[Change]:
        """Changes at or after `when` in `contexts` (and `namespace`), newest first."""
        with self._lock:
            self._settle(self._clock())
            changes = list(self._changes)
        found = [
            c
            for c in reversed(changes)
            if c.at >= when and c.context in contexts and (namespace is None or c.namespace == namespace)
        ]
        found.sort(key=lambda c: c.at, reverse=True)
        return found


def _settles(pod: Record | None, now: datetime, rules: triage.Rules) -> Change | None:
    """The "recovered" change a failing pod will have at the end of its settle time, if it then
    stops failing with nothing else changing; None when that is not how it stops failing."""
    if not isinstance(pod, PodRecord) or pod.deleting_since is not None:
        return None
    starts = [
        c.started_at for c in pod.containers if c.state == "running" and c.restart_count and c.started_at
    ]
    if not starts:
        return None
    at = max(starts) + timedelta(seconds=rules.settle)
    failure = triage.classify(pod, now, rules) if at > now else None
    if failure is None or triage.classify(pod, at, rules) is not None:
        return None
    was = f"was {failure.reason}"
    return _kept(at, pod.context, Kind.POD.singular, pod.namespace, pod.name, "recovered", was)


def _event_detail(event: EventRecord) -> str:
    kind = f"{event.type}: " if event.type != "Normal" else ""
    repeated = f" (x{event.count})" if event.count > 1 else ""
    return f"{kind}{event.message or ''}{repeated}"


def events_as_changes(events: Sequence[Record], since: datetime) -> list[Change]:
    """Events seen at or after `since`, newest first, as changes (on-demand mode)."""
    out = [
        Change(e.last_seen, e.context, e.object_kind, e.namespace, e.object_name, e.reason, _event_detail(e))
        for e in events
        if isinstance(e, EventRecord) and e.last_seen is not None and e.last_seen >= since
    ]
    out.sort(key=lambda c: c.at, reverse=True)
    return out


__all__ = ["Change", "ChangeJournal", "derive", "events_as_changes"]
