"""One call per cluster, in parallel, each under a deadline, with a bound per cluster.

Every request this server sends to a cluster on behalf of a question goes through a `Fanout`: the
live source's lists and the reads of any other kind (`objects`). A call runs on the shared pool
under `deadlines.deadline(budget)` (when it passes, the call's sockets are cut and its credential
plugin killed); its failure becomes the `ClusterError` that says why. The budget counts from when
the question asked, not from when a worker took the call: a call that waited for a free worker
has only what is left (none left: it is not sent, and says so), so a question over more clusters
than `max_workers` still ends within its timeout. The pool starts threads only as calls need them.
A cluster that already has `per_context` calls running gets no new thread until one ends, so one
hung cluster never takes the pool from the others. A `UserError` raised by a call (bad input found
only once the cluster was asked) reaches the caller as it is. A call runs in a copy of the
submitting thread's context variables, so it acts for the caller who asked (`impersonation`).
`gather` over several clusters tells the caller's `progress` (when one listens) as each answers.

Turning an answer into records is CPU work under the GIL; `decoding` lets only a few threads do it
at once in the whole process. A hundred lists decoded at once left the thread answering the
question (and the event loop) one GIL turn in a hundred: the answer came seconds after its timeout.

A question that asks a cluster several things (the summary lists nodes, pods and deployments, one
after another) asks a cluster that did not answer its first request (`timeout`, `unreachable`)
nothing more (`question`): with a hung cluster and `--request-timeout 3`, the summary took 9 s.

The calls of one question start together (`batch`): each waits until all are submitted. Started
one by one, the first calls' work (building API clients, reading and decoding answers) took the
GIL from the thread still submitting the others: at 107 contexts the last call was sent 5.5 s
after the first (measured, `--request-timeout 5`), and the answer came at 11 s.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from k8s_multicluster_mcp.common import progress
from k8s_multicluster_mcp.common.errors import ClusterError, ClusterTimeoutError, UserError
from k8s_multicluster_mcp.kube import deadlines, noblock
from k8s_multicluster_mcp.kube.client import capture_client_errors, load_kubernetes
from k8s_multicluster_mcp.model.contexts import ContextInfo

log = logging.getLogger(__name__)

T = TypeVar("T")
CallObserver = Callable[[str, str, float], None]
"""Told of every call that ran, when it ends: (context, `ok` or the `ClusterError`'s status,
seconds from submit). The health port's metrics use it; this layer stays free of them."""
DECODERS = 2
"""Threads turning cluster answers into records at once, process-wide (the GIL runs one anyway)."""
_decoders = threading.BoundedSemaphore(DECODERS)


@contextlib.contextmanager
def decoding(deadline: deadlines.Deadline) -> Iterator[None]:
    """Hold one of the `DECODERS` slots while decoding; waiting for one ends with the deadline."""
    if not _decoders.acquire(timeout=deadline.remaining()):
        raise ClusterTimeoutError("the deadline passed while waiting to decode the answer")
    try:
        yield
    finally:
        _decoders.release()


_NOT_ASKED_AGAIN = ("timeout", "unreachable")
_failed: contextvars.ContextVar[dict[str, ClusterError] | None] = contextvars.ContextVar(
    "k8s_mcp_question_failures", default=None
)


@contextlib.contextmanager
def question() -> Iterator[None]:
    """One question (a tool call): a cluster that times out or cannot be reached is not asked
    again within it; its later calls fail at once with the first error. Nested: the outer one."""
    if _failed.get() is not None:
        yield
        return
    token = _failed.set({})
    try:
        yield
    finally:
        _failed.reset(token)


class Fanout:
    """The pool, the per-cluster bound and the running deadlines of calls into clusters."""

    observer: CallObserver | None = None
    """Set once at start (the health port's metrics); None: nothing is told."""

    def __init__(self, *, timeout: float = 5.0, max_workers: int = 16, per_context: int = 2) -> None:
        self.timeout = timeout
        """Seconds a question waits for each cluster."""
        self._per_context = per_context
        self._lock = threading.Lock()
        self._busy: Counter[str] = Counter()
        self._running: set[deadlines.Deadline] = set()
        self._closed = False
        self._workers = max_workers
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="k8s-call")
        self._batch = threading.local()

    @contextlib.contextmanager
    def batch(self) -> Iterator[float]:
        """Calls submitted inside (by this thread) start when it ends, all together, and their
        budgets count from when it began (the instant it yields: the question's start)."""
        if getattr(self._batch, "current", None) is not None:  # nested: the outer batch holds them
            yield self._batch.current[1]
            return
        go, asked = threading.Event(), time.monotonic()
        self._batch.current = (go, asked)
        try:
            yield asked
        finally:
            self._batch.current = None
            go.set()

    def submit(
        self, ctx: ContextInfo, fn: Callable[[deadlines.Deadline], T], *, budget: float, what: str
    ) -> Future[T]:
        """Start `fn(deadline)` for `ctx`, or return an already failed future when the cluster
        has `per_context` calls running or the server is closing. `what` names the call in
        errors and logs ("listing pods"). Inside `batch`, the call waits for the batch."""
        noblock.check(what)
        failed = _failed.get()
        if failed is not None and ctx.name in failed:
            return settled(failed[ctx.name])
        with self._lock:
            if self._closed:
                return settled(ClusterError("the server is shutting down"))
            busy = self._busy[ctx.name]
            if busy >= self._per_context:
                return settled(
                    ClusterTimeoutError(
                        f"{busy} earlier requests to this cluster have not finished (each may take up "
                        f"to {budget:g}s); no new request is sent until one does"
                    )
                )
            self._busy[ctx.name] += 1
        # The worker runs in a copy of the asking thread's context: a caller's request acts as that
        # caller (`impersonation`), a list of the cached kinds as the server (`as_server`).
        go, asked = getattr(self._batch, "current", None) or (None, time.monotonic())
        future = self._pool.submit(
            contextvars.copy_context().run, self._call, ctx, fn, budget, what, asked, go
        )
        future.add_done_callback(lambda _: self._release(ctx.name))
        if self.observer is not None:
            future.add_done_callback(
                functools.partial(self._observed, self.observer, ctx.name, time.monotonic())
            )
        return future

    @staticmethod
    def _observed(observer: CallObserver, name: str, started: float, future: Future[object]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        status = "ok" if error is None or isinstance(error, UserError) else getattr(error, "status", "error")
        observer(name, status, time.monotonic() - started)

    def _release(self, name: str) -> None:
        with self._lock:
            self._busy[name] -= 1
            if self._busy[name] <= 0:
                del self._busy[name]

    def _call(
        self,
        ctx: ContextInfo,
        fn: Callable[[deadlines.Deadline], T],
        budget: float,
        what: str,
        asked: float,
        go: threading.Event | None = None,
    ) -> T:
        if go is not None:
            go.wait(budget)
        waited = time.monotonic() - asked
        if waited >= budget:
            raise ClusterTimeoutError(
                f"{what} waited {waited:.1f}s for a free worker (all {self._workers} busy: "
                "--max-workers) and was not sent"
            )
        with capture_client_errors() as exec_errors, deadlines.deadline(budget - waited) as deadline:
            with self._lock:
                self._running.add(deadline)
            try:
                return fn(deadline)
            except UserError:
                raise
            except Exception as exc:
                load_kubernetes()  # classify knows the client's exceptions
                from k8s_multicluster_mcp.kube.apierrors import classify

                error = (
                    ClusterTimeoutError(f"{what} did not finish within {budget:g}s and was stopped")
                    if deadline.expired
                    else classify(exc, exec_errors)
                )
                log.info("%s: %s failed: %s", ctx.name, what, error)
                raise error from exc
            finally:
                with self._lock:
                    self._running.discard(deadline)

    def one(self, ctx: ContextInfo, fn: Callable[[deadlines.Deadline], T], *, budget: float, what: str) -> T:
        """`fn(deadline)` for one context, waiting up to `budget`; its `ClusterError` (or the
        caller's `UserError`) is raised."""
        future = self.submit(ctx, fn, budget=budget, what=what)
        try:
            return future.result(timeout=budget + 1)
        except FutureTimeout as exc:
            raise ClusterTimeoutError(f"{what} did not finish within {budget:g}s") from exc
        except CancelledError as exc:
            raise ClusterError("the server is shutting down") from exc

    def gather(
        self, futures: Mapping[str, Future[T]], *, late: str | None = None, asked: float | None = None
    ) -> dict[str, T | ClusterError]:
        """Each future's result or `ClusterError`, waiting at most `timeout` from `asked` (the
        question's start; default now) in all. `late` is the message for a cluster that has not
        answered by then."""
        if not all(future.done() for future in futures.values()):
            noblock.check("waiting for clusters to answer")
        deadline = (time.monotonic() if asked is None else asked) + self.timeout
        told = progress.clusters(list(futures))
        if told is not None:
            for name, future in futures.items():
                future.add_done_callback(functools.partial(_answered, told, name))
        out: dict[str, T | ClusterError] = {}
        for name, future in futures.items():
            try:
                out[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                out[name] = ClusterTimeoutError(late or f"no answer within {self.timeout:g}s")
            except ClusterError as exc:
                out[name] = exc
            except CancelledError:
                out[name] = ClusterError("the server is shutting down")
        if told is not None:
            told.finish([n for n, a in out.items() if isinstance(a, ClusterTimeoutError)])
        failed = _failed.get()
        if failed is not None:
            for name, answer in out.items():
                if isinstance(answer, ClusterError) and answer.status in _NOT_ASKED_AGAIN:
                    failed.setdefault(name, answer)
        return out

    def run(
        self,
        contexts: Sequence[ContextInfo],
        fn: Callable[[ContextInfo, deadlines.Deadline], T],
        *,
        what: str,
    ) -> dict[str, T | ClusterError]:
        """`fn(ctx, deadline)` for every context in parallel; each gets `timeout` seconds."""
        with self.batch() as asked:
            futures = {
                ctx.name: self.submit(ctx, _bind(fn, ctx), budget=self.timeout, what=what) for ctx in contexts
            }
        return self.gather(futures, asked=asked)

    def close(self) -> None:
        """Stop: no new call starts, running ones are cut now (their threads end at once)."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for deadline in running:
            deadline.expire()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _answered(told: progress.Clusters, name: str, future: Future[object]) -> None:
    """A cluster's call ended: an answer (or an error) is progress; a timeout is said at the end."""
    if future.cancelled() or not isinstance(future.exception(), ClusterTimeoutError):
        told.answered(name)


def _bind(
    fn: Callable[[ContextInfo, deadlines.Deadline], T], ctx: ContextInfo
) -> Callable[[deadlines.Deadline], T]:
    return lambda deadline: fn(ctx, deadline)


def settled(value: T | ClusterError) -> Future[T]:
    """A future that is already done with `value` (raised when it is a `ClusterError`)."""
    done: Future[T] = Future()
    if isinstance(value, ClusterError):
        done.set_exception(value)
    else:
        done.set_result(value)
    return done
