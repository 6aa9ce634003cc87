"""Progress of a long call, told as it happens, without knowing who listens (issue 21).

The tool layer sets a `Progress` callback for the call (`reporting`); code below it, in any thread
that copied the caller's context (the `Fanout` workers do), asks `phase(total)` for a range of
steps and reports in it. Each phase reserves its own range, so the numbers a client sees only grow
even when a call fans out several times (a summary lists pods, then nodes, then deployments).
Nothing is reported when no callback is set: a client that asked for no progress gets none.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextvars import ContextVar

Progress = Callable[[int, int, str], None]
"""Told (progress, total, message); may be called from any thread, must not block."""
SHOWN = 3
"""Clusters named as still waiting before "and N more"."""

_current: ContextVar[Reporter | None] = ContextVar("progress", default=None)


class Reporter:
    """One call's progress: hands out ranges of steps and drops a report that would go back."""

    def __init__(self) -> None:
        self._sink: Progress | None = None
        self._lock = threading.Lock()
        self._reserved = 0
        self._last = 0

    def phase(self, total: int) -> Phase:
        with self._lock:
            base = self._reserved
            self._reserved += total
        return Phase(self, base, total)

    def _send(self, progress: int, message: str) -> None:
        with self._lock:
            if self._sink is None or progress <= self._last:
                return
            self._last = progress
            # Under the lock, so that reports reach the sink in the order decided here.
            self._sink(progress, self._reserved, message)


class Phase:
    """`total` steps of one call's progress (a fan-out's clusters, a drain's pods)."""

    def __init__(self, reporter: Reporter, base: int, total: int) -> None:
        self._reporter, self._base, self.total = reporter, base, total

    def step(self, done: int, message: str) -> None:
        """`done` of `total` steps are done."""
        self._reporter._send(self._base + min(done, self.total), message)


@contextlib.contextmanager
def reporting(sink: Progress, reporter: Reporter | None = None) -> Iterator[None]:
    """Report this context's progress (and that of the threads that copy it) to `sink`; with
    `reporter`, as a further part of the same call (its numbers go on from where they were)."""
    reporter = reporter or Reporter()
    with reporter._lock:
        before, reporter._sink = reporter._sink, sink
    token = _current.set(reporter)
    try:
        yield
    finally:
        _current.reset(token)
        with reporter._lock:
            reporter._sink = before


def phase(total: int) -> Phase | None:
    """A range of `total` steps of the current call's progress, or None when nobody listens."""
    reporter = _current.get()
    return reporter.phase(total) if reporter is not None else None


def waiting(answered: int, total: int, pending: Sequence[str]) -> str:
    """'12 of 40 clusters answered; waiting for eu-2, us-7 and 26 more'."""
    said = f"{answered} of {total} clusters answered"
    return f"{said}; waiting for {_some(pending)}" if pending else said


def finished(total: int, unanswered: Sequence[str]) -> str:
    """The last word of a fan-out: all answered, or which did not."""
    if not unanswered:
        return f"{total} of {total} clusters answered"
    return f"{total - len(unanswered)} of {total} clusters answered; no answer from {_some(unanswered)}"


def _some(names: Sequence[str]) -> str:
    """The first `SHOWN` names, then how many more: 'eu-2, us-7, ap-1 and 4 more'."""
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


class Clusters:
    """A fan-out's progress: told as each cluster answers, then once at the end."""

    def __init__(self, step: Phase, names: Collection[str]) -> None:
        self._phase = step
        self._pending = list(names)
        self._lock = threading.Lock()
        self._over = False

    def answered(self, name: str) -> None:
        """`name` answered (an error is an answer; a timeout is not, `finish` names it)."""
        with self._lock:
            if self._over or name not in self._pending:
                return
            self._pending.remove(name)
            pending = list(self._pending)
        total = self._phase.total
        self._phase.step(total - len(pending), waiting(total - len(pending), total, pending))

    def finish(self, unanswered: Sequence[str]) -> None:
        """The fan-out is over: say so (dropped when the last answer already said all answered)."""
        with self._lock:
            self._over = True
        self._phase.step(self._phase.total, finished(self._phase.total, unanswered))


def clusters(names: Collection[str]) -> Clusters | None:
    """Progress of a fan-out over `names`, or None when nobody listens or it is one cluster."""
    if len(names) < 2:
        return None
    step = phase(len(names))
    return Clusters(step, names) if step is not None else None
