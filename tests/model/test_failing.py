"""The failing set kept current by changes and the clock equals triage from scratch (property tests)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from k8s_multicluster_mcp.model.failing import FailingSet
from k8s_multicluster_mcp.model.records import PodRecord, pod_record
from k8s_multicluster_mcp.model.triage import Rules, changes_at, classify, owner, severity
from tests.strategies import KEYS, NOW, RULES, pods, ts


def from_scratch(
    current: dict[tuple[str, str], PodRecord], now: datetime
) -> tuple[list[str], dict[str, int], list[str | None]]:
    """What every question answered before the set: classify all, sort, count, say why now."""
    found = [(p, f) for p in current.values() if (f := classify(p, now, RULES)) is not None]
    found.sort(key=lambda pf: (severity(pf[1].reason), -(pf[1].since.timestamp() if pf[1].since else -math.inf),
                               pf[0].name, pf[0].namespace))  # fmt: skip
    counts: dict[str, int] = {}
    for _, f in found:
        counts[f.reason] = counts.get(f.reason, 0) + 1
    return [f"{p.namespace}/{p.name}" for p, _ in found], counts, [f.message(now) for _, f in found]


@given(pods(), st.integers(0, 7200), st.integers(0, 7200))
@settings(max_examples=200, deadline=None, derandomize=True, database=None)
def test_a_reason_holds_until_the_next_instant_the_clock_may_change_it(
    pod: PodRecord, a: int, b: int
) -> None:
    start, later = NOW + timedelta(seconds=min(a, b)), NOW + timedelta(seconds=max(a, b))
    due = min((t for t in changes_at(pod, RULES) if t >= start), default=None)
    if due is None or later < due:
        first, second = classify(pod, start, RULES), classify(pod, later, RULES)
        assert (first and first.reason) == (second and second.reason)


Step = tuple[str, int, Any]


@st.composite
def histories(draw: st.DrawFn) -> list[Step]:
    """Changes to a few pods and questions, as the clock moves forward."""
    steps: list[Step] = []
    for _ in range(draw(st.integers(1, 30))):
        index = draw(st.integers(0, len(KEYS) - 1))
        what = draw(st.sampled_from(["put", "put", "delete", "ask"]))
        elapsed = draw(st.sampled_from([0, 1, 30, 119, 121, 301, 3601]))
        steps.append((what, elapsed, draw(pods(KEYS[index])) if what == "put" else KEYS[index]))
    return steps


def apply(
    failing: FailingSet, current: dict[tuple[str, str], PodRecord], what: str, subject: Any, now: datetime
) -> None:
    """One step of a history, to the set and to the pods it should hold ("ask" changes nothing)."""
    if what == "put":
        current[(subject.namespace, subject.name)] = subject
        failing.update((subject.namespace, subject.name), subject, now)
    elif what == "delete":
        current.pop(subject, None)
        failing.update(subject, None, now)


@given(histories())
@settings(max_examples=100, deadline=None, derandomize=True, database=None)
def test_the_set_answers_as_triage_from_scratch_after_any_history(history: list[Step]) -> None:
    failing = FailingSet(RULES)
    current: dict[tuple[str, str], PodRecord] = {}
    now = NOW
    for what, elapsed, subject in history:
        now += timedelta(seconds=elapsed)
        apply(failing, current, what, subject, now)
        picked = failing.pick(now, RULES)
        names, counts, messages = from_scratch(current, now)
        assert [f"{f.pod.namespace}/{f.pod.name}" for _, f in picked.pods] == names
        assert picked.by_reason == counts
        assert len(failing) == len(names)
        # Classified once, read now: the message says its times as a classification now would.
        assert [f.failure.message(now) for _, f in picked.pods] == messages
        assert all(f.restarts == f.pod.restarts and f.owner == owner(f.pod) for _, f in picked.pods)


@given(histories(), st.sampled_from(["a", "b", None]), st.sampled_from([None, ["crashloopbackoff"], ["Pending", "NotReady"]]),
       st.sampled_from([None, 0, 1, 2]))  # fmt: skip
@settings(max_examples=60, deadline=None, derandomize=True, database=None)
def test_a_pick_in_a_namespace_with_reasons_and_a_limit_is_a_slice_of_the_whole(
    history: list[Step], namespace: str | None, reasons: list[str] | None, limit: int | None
) -> None:
    failing = FailingSet(RULES)
    now = NOW
    for what, elapsed, subject in history:
        now += timedelta(seconds=elapsed)
        if what == "put":
            failing.update((subject.namespace, subject.name), subject, now)
        elif what == "delete":
            failing.update(subject, None, now)
    whole = failing.pick(now, RULES)
    wanted = {r.lower() for r in reasons} if reasons else None

    def kept(pod: PodRecord) -> bool:
        failure = classify(pod, now, RULES)
        assert failure is not None
        return namespace in (None, pod.namespace) and (wanted is None or failure.reason.lower() in wanted)

    expected = [f for _, f in whole.pods if kept(f.pod)]
    picked = failing.pick(now, RULES, reasons, limit, namespace)
    assert [f for _, f in picked.pods] == expected[:limit]
    assert sum(picked.by_reason.values()) == len(expected)


def test_a_question_about_the_past_is_classified_anew() -> None:
    """A `now` well before the newest change (a test's fixed clock) is answered exactly."""
    raw = {"metadata": {"name": "p", "namespace": "a", "creationTimestamp": ts(-100)},
           "spec": {"containers": [{"name": "app", "image": "img"}]}, "status": {"phase": "Pending"}}  # fmt: skip
    pending = pod_record("cp-1", raw)
    assert isinstance(pending, PodRecord)
    failing = FailingSet.of([pending], NOW + timedelta(seconds=600), RULES)
    assert failing.pick(NOW + timedelta(seconds=600), RULES).by_reason == {"Pending": 1}
    assert failing.pick(NOW, RULES).by_reason == {}


def test_other_rules_than_the_sets_are_answered_by_classifying_anew() -> None:
    """A question with other thresholds (a test's `pending_grace=0`) is answered by its rules."""
    raw = {"metadata": {"name": "p", "namespace": "a", "creationTimestamp": ts(-100)},
           "spec": {"containers": [{"name": "app", "image": "img"}]}, "status": {"phase": "Pending"}}  # fmt: skip
    pending = pod_record("cp-1", raw)
    assert isinstance(pending, PodRecord)
    failing = FailingSet.of([pending], NOW, RULES)
    assert failing.pick(NOW, RULES).by_reason == {}
    assert failing.pick(NOW, Rules(pending_grace=0)).by_reason == {"Pending": 1}


@given(st.lists(histories(), min_size=4, max_size=12))
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
def test_with_no_question_asked_the_heap_stays_bounded_by_the_pods_and_answers_stay_exact(
    histories_: list[list[Step]],
) -> None:
    """Only questions pop the heap: a server nobody asks must not keep one entry per event."""
    failing = FailingSet(RULES)
    current: dict[tuple[str, str], PodRecord] = {}
    now = NOW
    for what, elapsed, subject in (step for history in histories_ for step in history):
        now += timedelta(seconds=elapsed)
        apply(failing, current, what, subject, now)
        assert len(failing._due) <= 2 * len(current) + 64 + 2
    picked = failing.pick(now, RULES)
    names, counts, messages = from_scratch(current, now)
    assert [f"{f.pod.namespace}/{f.pod.name}" for _, f in picked.pods] == names
    assert picked.by_reason == counts
    assert [f.failure.message(now) for _, f in picked.pods] == messages


def test_a_pod_changed_a_thousand_times_leaves_a_few_heap_entries() -> None:
    raw = {"metadata": {"name": "p", "namespace": "a", "creationTimestamp": ts(-100)},
           "spec": {"containers": [{"name": "app", "image": "img"}]}, "status": {"phase": "Pending"}}  # fmt: skip
    pending = pod_record("cp-1", raw)
    assert isinstance(pending, PodRecord)
    failing = FailingSet(RULES)
    for step in range(1000):
        failing.update(("a", "p"), pending, NOW + timedelta(milliseconds=step))
    assert len(failing._due) <= 2 + 64 + 1
    assert failing.pick(NOW + timedelta(seconds=600), RULES).by_reason == {"Pending": 1}
