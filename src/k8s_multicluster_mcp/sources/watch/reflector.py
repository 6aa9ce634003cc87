"""A reflector keeps one `KindStore` equal to what one API server holds for one kind.

client-go's Reflector is the reference, and `shared/notes/watch-cache.md` the summary:

- Fill the store: a streaming list (`sendInitialEvents`, ended by the bookmark annotated
  `k8s.io/initial-events-end`) where the server supports it, else a paginated LIST (a 410 on a
  later page falls back to one unpaginated list). The store is replaced at once; what is gone
  is a deletion. Only then is the reflector `synced`: an empty unsynced store proves nothing.
- Watch from the list's resourceVersion with bookmarks and a server timeout drawn from 5-10
  minutes (so many watches do not reconnect at once); the read timeout is longer than that, so a
  half-open connection is found. Every event moves the resourceVersion, bookmarks included (a
  bookmark carries nothing but it: it is never decoded into a record). Versions are opaque.
- 410 Gone / Expired: list again. Connection errors, 429 and 5xx: watch again from the last
  version after a jittered exponential backoff (0.8 s doubling, at most 30 s, reset after two
  healthy minutes); a watch that ends at once without an event counts as a failure.
- 403: if the context names a namespace and the kind was never listed cluster-wide, watch that
  namespace instead (what `kubectl get pods` does for such a user). Otherwise remember it and ask
  again after 1 s, doubling up to every five minutes: an API server that has just (re)started
  answers 403 for some tens of milliseconds until its RBAC is loaded, and a watch reconnecting in
  that window must not freeze; a 403 that persists settles at the slow retry, not a loop.
- A watch going down (and why), becoming forbidden, or recovering is logged once, at WARNING
  (the default level): an operator sees each transition, not each retry.

Filling a store (the first list and every relist) waits for one of a few slots shared by every
reflector of the process (`ListGate`): 300 watches starting together would otherwise ask for 300
lists at once, decode them all at once on a few cores, time out, and list again from the start (a
stampede: measured 764 s to sync 100 contexts). With the gate a cold start is a queue that drains
in waves that each finish. A list's reads wait up to `list_timeout`, not `--request-timeout`: an
API server may take longer to encode a page of a large list than to answer a GET. A fill whose
server has sent nothing within `request_timeout` stops counting against the bound (it waits on the
network, not on the cores), so a hung cluster never holds the queue.

Every request runs under a deadline (`deadlines`), so `stop()` ends the thread at once.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import orjson

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.errors import ClusterApiError, ClusterError, ClusterForbiddenError
from k8s_multicluster_mcp.kube import deadlines, impersonation
from k8s_multicluster_mcp.kube.api import list_call
from k8s_multicluster_mcp.kube.apierrors import ApiException, classify
from k8s_multicluster_mcp.kube.client import capture_client_errors
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import Record, to_record
from k8s_multicluster_mcp.sources.base import CacheEntry
from k8s_multicluster_mcp.sources.watch.memory import approx_bytes
from k8s_multicluster_mcp.sources.watch.policy import View
from k8s_multicluster_mcp.sources.watch.store import KindStore

log = logging.getLogger(__name__)

WATCH_SECONDS = (300, 600)
READ_MARGIN = 30
LIST_BUDGET = 300.0
BACKOFF_START = 0.8
BACKOFF_CAP = 30.0
BACKOFF_RESET = 120.0
FORBIDDEN_RETRY = 300.0
FORBIDDEN_FIRST = 1.0
INSTANT = 1.0
"""A watch that ends sooner than this without an event is a failure, not a normal close."""
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
LIST_SLOTS = 16
"""Stores filled at once in the whole process. Four were too few: at 100 contexts x 200 pods on a
loaded machine the cache synced in 194-247 s against 101 s with no bound, each fill mostly waiting
on its API server; sixteen keep 3 API servers and the network busy and still make 300 fills waves."""
LIST_TIMEOUT = 60.0


class Expired(Exception):
    """The resourceVersion is too old for the server (410 Gone): list again."""


class _NoStreamingList(Exception):
    """The server did not finish a streaming list; use LIST from now on."""


def _lines(response: Any) -> Iterator[bytes]:
    """The lines of a chunked watch response, as they arrive."""
    pending = b""
    for chunk in response.stream(None, decode_content=False):
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield line
    if pending.strip():
        yield pending


def _expired(exc: ApiException) -> bool:
    return bool(exc.status == 410)


def forbidden_delay(streak: int) -> float:
    """Seconds to wait after the `streak`-th 403 in a row (0 for the first): 1 s doubling up to
    FORBIDDEN_RETRY, so a transient 403 of a restarting API server costs a second, and a real
    one costs a handful of requests over a few minutes, then one every five minutes."""
    return float(min(FORBIDDEN_FIRST * 2 ** min(streak, 16), FORBIDDEN_RETRY))


class ListGate:
    """At most `slots` stores filled at once, process-wide; a stopped reflector stops waiting.

    A holder that has not reported progress (`Slot.progress`: its server answered) within its
    lease no longer counts, so a hung server cannot keep the others waiting.
    """

    def __init__(self, slots: int = LIST_SLOTS, clock: Callable[[], float] = time.monotonic) -> None:
        self.slots = slots
        self._clock = clock
        self._cond = threading.Condition()
        self._holders: dict[int, tuple[float, bool]] = {}
        """id -> (lease end, answered)."""
        self._ids = itertools.count()

    def _busy(self, now: float) -> tuple[int, float | None]:
        """Holders that count now, and the earliest instant one of them may stop counting."""
        busy, lapse = 0, None
        for ends, answered in self._holders.values():
            if answered or ends > now:
                busy += 1
                if not answered:
                    lapse = ends if lapse is None else min(lapse, ends)
        return busy, lapse

    def acquire(self, stop: threading.Event, lease: float) -> Slot | None:
        """Wait for a slot (None if `stop` was set first); it counts for `lease` seconds unless
        its holder reports progress."""
        with self._cond:
            while not stop.is_set():
                now = self._clock()
                busy, lapse = self._busy(now)
                if busy < self.slots:
                    key = next(self._ids)
                    self._holders[key] = (now + lease, False)
                    return Slot(self, key)
                self._cond.wait(None if lapse is None else max(0.01, lapse - now))
        return None

    def _progress(self, key: int) -> None:
        with self._cond:
            if key in self._holders:
                self._holders[key] = (self._holders[key][0], True)

    def _release(self, key: int) -> None:
        with self._cond:
            self._holders.pop(key, None)
            self._cond.notify()

    def wake(self) -> None:
        """Let waiters look at their stop events again."""
        with self._cond:
            self._cond.notify_all()

    @property
    def counted(self) -> int:
        """Holders counting against the bound now (for tests and status)."""
        with self._cond:
            return self._busy(self._clock())[0]


class Slot:
    """One fill's place in a `ListGate`; released once, by `release`."""

    def __init__(self, gate: ListGate, key: int) -> None:
        self._gate = gate
        self._key = key

    def progress(self) -> None:
        """The server answered: this fill now counts until it ends."""
        self._gate._progress(self._key)

    def release(self) -> None:
        self._gate._release(self._key)


LISTS = ListGate()
"""The process's gate: every reflector's, unless a test gives its own."""


class Reflector:
    """List, then watch, `kind` of one context into `store`, on a thread of its own."""

    def __init__(
        self,
        ctx: ContextInfo,
        kind: Kind,
        registry: ContextRegistry,
        store: KindStore,
        *,
        request_timeout: float = 5.0,
        list_timeout: float = LIST_TIMEOUT,
        page_size: int = 500,
        streaming: bool = True,
        gate: ListGate | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self.kind = kind
        self.store = store
        self._registry = registry
        self._timeout = request_timeout
        self._list_timeout = list_timeout
        self._gate = gate or LISTS
        self._slot: Slot | None = None
        self._page_size = page_size
        self._streaming = streaming and kind is not Kind.NAMESPACE
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._deadline: deadlines.Deadline | None = None
        # An empty context: a caller's question may start a watch, which must never act for them.
        self._thread = threading.Thread(
            target=impersonation.empty_context(self._run),
            name=f"k8s-watch {ctx.name}/{kind.value}",
            daemon=True,
        )
        self.synced = False
        self.healthy = False
        self.scope: str | None = None
        """The namespace watched when the user may not watch `kind` cluster-wide."""
        self.cluster_wide_forbidden: str | None = None
        self.forbidden: str | None = None
        """Why the user may not list/watch `kind` (in `scope`), retried every FORBIDDEN_RETRY."""
        self.resource_version = ""
        self.relists = 0
        self.reconnects = 0
        self.requests = 0
        self.events = 0
        self.last_error: str | None = None
        self.last_event: datetime | None = None
        self.unhealthy_since: float | None = None
        self.unhealthy_since_wall: datetime | None = None
        self._healthy_since = clock()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end and cut its request now."""
        self._stop.set()
        self._gate.wake()
        with self._lock:
            current = self._deadline
        if current is not None:
            current.expire()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        return bool(self._stop.is_set())

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = BACKOFF_START
        forbidden_streak = 0
        need_list = True
        while not self._stop.is_set():
            started = self._clock()
            try:
                if need_list:
                    self._slot = self._gate.acquire(self._stop, self._timeout)
                    if self._slot is None:
                        break
                    try:
                        self._fill()
                    finally:
                        self._slot.release()
                        self._slot = None
                    need_list = False
                events = self._watch()
                if events == 0 and self._clock() - started < INSTANT and not self._stop.is_set():
                    raise ClusterApiError("the watch ended at once without an event")
                forbidden_streak = 0
                if self._clock() - self._healthy_since >= BACKOFF_RESET:
                    backoff = BACKOFF_START
            except Expired as exc:
                self.relists += 1
                self.last_error = f"resourceVersion expired ({exc}); listing again"
                need_list = True
            except Exception as exc:
                if self._stop.is_set():
                    break
                error = exc if isinstance(exc, ClusterError) else classify(exc)
                forbidden = isinstance(error, ClusterForbiddenError)
                delay = forbidden_delay(forbidden_streak)
                if (
                    forbidden
                    and self.scope is None
                    and self.ctx.namespace
                    and self.kind.namespaced
                    and (not self.synced or delay >= FORBIDDEN_RETRY)
                ):
                    self.scope = self.ctx.namespace
                    self.cluster_wide_forbidden = error.message
                    need_list = True
                    log.info("%s: may not watch %s cluster-wide; watching namespace %s", self.ctx.name,
                             self.kind.value, self.scope)  # fmt: skip
                    continue
                self._unhealthy(error)
                if forbidden:
                    self.forbidden = error.message
                    need_list = True
                    forbidden_streak += 1
                    self._stop.wait(delay)
                    continue
                forbidden_streak = 0
                self.reconnects += 1
                # Jitter, so that many reflectors do not retry in step (not cryptography).
                self._stop.wait(backoff * random.uniform(0.8, 1.2))  # noqa: S311  # nosec B311
                backoff = min(backoff * 2, BACKOFF_CAP)
        self.healthy = False

    def _unhealthy(self, error: ClusterError) -> None:
        was = self.last_error if not self.healthy else None
        self.last_error = f"{error.status}: {error.message}"
        if self.healthy or self.unhealthy_since is None:
            self.unhealthy_since = self._clock()
            self.unhealthy_since_wall = utcnow()
        if self.healthy or was is None or was.split(":", 1)[0] != error.status:
            log.warning("%s: watch of %s down (%s); retrying, answers come live or from the cache "
                        "until it is back", self.ctx.name, self.kind.value, self.last_error)  # fmt: skip
        else:
            log.debug("%s: watching %s failed again: %s", self.ctx.name, self.kind.value, self.last_error)
        self.healthy = False

    def _mark_healthy(self) -> None:
        self.forbidden = None
        if not self.healthy:
            self._healthy_since = self._clock()
            if self.last_error is not None:
                log.warning("%s: watch of %s is back", self.ctx.name, self.kind.value)
        self.healthy = True
        self.unhealthy_since = None
        self.unhealthy_since_wall = None
        self.last_event = utcnow()

    # -- filling the store ---------------------------------------------------------------------

    def _fill(self) -> None:
        if self._streaming:
            try:
                self._watch(initial=True)
                return
            except _NoStreamingList as exc:
                log.info("%s: streaming list of %s unavailable (%s); using LIST", self.ctx.name,
                         self.kind.value, exc)  # fmt: skip
                self._streaming = False
            except ApiException as exc:
                if exc.status in (401, 403, 410) or (exc.status or 0) >= 500 or exc.status == 429:
                    raise
                log.info("%s: streaming list of %s refused (HTTP %s); using LIST", self.ctx.name,
                         self.kind.value, exc.status)  # fmt: skip
                self._streaming = False
        self._list()

    def _call(self) -> Callable[..., Any]:
        return list_call(self._registry.api_client(self.ctx), self.kind, self.scope)

    def _list(self) -> None:
        records: list[Record] = []
        version = ""
        with capture_client_errors() as exec_errors, deadlines.deadline(LIST_BUDGET) as item:
            self._current(item)
            try:
                call = self._call()
                timeouts = (self._timeout, self._list_timeout)
                token: str | None = None
                while True:
                    self.requests += 1
                    try:
                        response = call(limit=self._page_size, _continue=token, _preload_content=False,
                                        _request_timeout=timeouts)  # fmt: skip
                        self._answered()
                    except ApiException as exc:
                        if not (token and _expired(exc)):
                            raise
                        # The continue token expired between pages: one full list instead.
                        records, token = [], None
                        self.requests += 1
                        response = call(_preload_content=False, _request_timeout=timeouts)
                    body = orjson.loads(response.data)
                    records.extend(
                        to_record(self.kind, self.ctx.name, obj) for obj in body.get("items") or ()
                    )
                    self.events += len(body.get("items") or ())
                    metadata = body.get("metadata") or {}
                    version = str(metadata.get("resourceVersion") or version)
                    previous, token = token, metadata.get("continue") or None
                    if not token:
                        break
                    if token == previous:
                        raise ClusterApiError("the API server returned the same continue token twice")
            except ClusterError:
                raise
            except Exception as exc:
                raise classify(exc, exec_errors) from exc
            finally:
                self._current(None)
        self.store.replace(records)
        self.resource_version = version
        self.synced = True
        self._mark_healthy()

    # -- watching ------------------------------------------------------------------------------

    def _watch(self, initial: bool = False) -> int:
        """One watch request, consumed until the server ends it; returns how many events came.

        `initial`: a streaming list; returns once its initial events ended (and the store holds
        them), raising `_NoStreamingList` if the stream ends or stalls first.
        """
        # Spread reconnects over time (not cryptography).
        seconds = random.randint(*WATCH_SECONDS)  # noqa: S311  # nosec B311
        options: dict[str, Any] = {
            "watch": True,
            "allow_watch_bookmarks": True,
            "timeout_seconds": seconds,
            "_preload_content": False,
        }
        if initial:
            options.update(send_initial_events=True, resource_version_match="NotOlderThan")
            options["_request_timeout"] = (self._timeout, self._list_timeout)
            budget = LIST_BUDGET
        else:
            options["resource_version"] = self.resource_version
            options["_request_timeout"] = (self._timeout, seconds + READ_MARGIN)
            budget = seconds + READ_MARGIN + self._timeout
        with capture_client_errors() as exec_errors, deadlines.deadline(budget) as item:
            self._current(item)
            response: Any = None
            try:
                try:
                    response = self._open(options, initial)
                except (Expired, _NoStreamingList, ApiException):
                    raise
                except Exception as exc:
                    raise classify(exc, exec_errors) from exc
                if initial:
                    self._answered()
                else:
                    self._mark_healthy()
                return self._consume(response, {} if initial else None)
            except (Expired, ClusterError, _NoStreamingList, ApiException):
                raise
            except Exception as exc:
                if initial and not self._stop.is_set() and not item.expired:
                    raise _NoStreamingList(f"{type(exc).__name__}: {exc}") from exc
                if item.expired and not self._stop.is_set() and not initial:
                    return 0  # the server's own timeout passed without it closing: watch again
                raise classify(exc, exec_errors) from exc
            finally:
                self._current(None)
                if response is not None:
                    # A streaming list returns with the stream still open; never leave it so.
                    with contextlib.suppress(Exception):
                        response.close()

    def _open(self, options: dict[str, Any], initial: bool) -> Any:
        self.requests += 1
        try:
            return self._call()(**options)
        except ApiException as exc:
            if _expired(exc):
                raise Expired(exc.reason or "410 Gone") from exc
            if initial and exc.status not in (401, 403, 429) and (exc.status or 0) < 500:
                raise _NoStreamingList(f"HTTP {exc.status}") from exc
            raise

    def _consume(self, response: Any, pending: dict[tuple[str, str], Record] | None) -> int:
        """Apply a watch stream's events; with `pending`, gather a streaming list's initial ones."""
        count = 0
        for line in _lines(response):
            event = orjson.loads(line)
            kind, obj = event.get("type"), event.get("object") or {}
            metadata = obj.get("metadata") or {}
            if kind == "ERROR":
                if obj.get("code") == 410 or obj.get("reason") in ("Expired", "Gone"):
                    raise Expired(str(obj.get("message") or "410 Gone"))
                raise ClusterApiError(f"watch error: {obj.get('message') or obj.get('reason')}")
            version = metadata.get("resourceVersion")
            if version:
                self.resource_version = str(version)
            if kind == "BOOKMARK":
                annotations = metadata.get("annotations") or {}
                if pending is not None and annotations.get(INITIAL_EVENTS_END) == "true":
                    self.store.replace(pending.values())
                    self.synced = True
                    self._mark_healthy()
                    return count
                if pending is None:
                    self.last_event = utcnow()
                continue
            record = to_record(self.kind, self.ctx.name, obj)
            count += 1
            self.events += 1
            if pending is not None:
                key = (getattr(record, "namespace", ""), record.name)
                if kind == "DELETED":
                    pending.pop(key, None)
                else:
                    pending[key] = record
                continue
            if kind == "DELETED":
                self.store.delete(record)
            else:
                self.store.upsert(record)
            self.last_event = utcnow()
        if pending is not None:
            raise _NoStreamingList("the stream ended before its initial events did")
        return count

    def _answered(self) -> None:
        if self._slot is not None:
            self._slot.progress()

    def _current(self, item: deadlines.Deadline | None) -> None:
        with self._lock:
            self._deadline = item
        if item is not None and self._stop.is_set():
            item.expire()

    # -- what it knows -------------------------------------------------------------------------

    def view(self) -> View:
        return View(
            synced=self.synced,
            healthy=self.healthy,
            unhealthy_since=self.unhealthy_since,
            scope=self.scope,
            cluster_wide_forbidden=self.cluster_wide_forbidden,
            forbidden=self.forbidden,
        )

    def status(self) -> CacheEntry:
        return CacheEntry(
            context=self.ctx.name,
            kind=self.kind,
            synced=self.synced,
            healthy=self.healthy,
            objects=len(self.store),
            scope=self.scope,
            resource_version=self.resource_version,
            last_event=self.last_event,
            unhealthy_since=self.unhealthy_since_wall,
            relists=self.relists,
            reconnects=self.reconnects,
            requests=self.requests,
            events=self.events,
            forbidden=self.forbidden,
            last_error=self.last_error,
            approx_bytes=approx_bytes(self.store),
        )


__all__ = ["LISTS", "Expired", "ListGate", "Reflector", "Slot"]
