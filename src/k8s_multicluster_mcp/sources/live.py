"""On-demand source: paginated list calls, fanned out across clusters, behind a short TTL cache.

Nothing runs in the background until a question is asked. Each cluster gets at most `timeout`
seconds to answer; one that takes longer is reported as `timeout` while the others answer, and
its list keeps going in the background, for at most `WORK_FACTOR` times that, to land in the TTL
cache for the next question (with the TTL cache off, `--cache-ttl 0`, it is cut at the timeout).
Every list runs under a deadline (`deadlines`): when it passes, the list's sockets are cut and
its credential plugin killed, whatever the server is doing (hanging, drip-feeding bytes, handing
out `continue` tokens forever). The pool, the deadlines and the bound per cluster are the
`Fanout`'s, shared with every other call into a cluster. Two questions needing the same list at
the same moment share one request (single flight).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, NamedTuple

import orjson
from cachetools import TTLCache

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.errors import (
    ClusterApiError,
    ClusterError,
    ClusterForbiddenError,
    ClusterTimeoutError,
)
from k8s_multicluster_mcp.common.selectors import LabelSelector
from k8s_multicluster_mcp.kube import deadlines, impersonation
from k8s_multicluster_mcp.kube.api import list_call
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.fanout import Fanout, decoding, settled
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.podfilter import PodFilter
from k8s_multicluster_mcp.model.records import Raw, Record, to_record
from k8s_multicluster_mcp.sources.base import CacheStatus, Keeps, Snapshot

log = logging.getLogger(__name__)


class _Key(NamedTuple):
    """One list: what the TTL cache and single flight key on."""

    context: str
    kind: Kind
    namespace: str | None
    selector: str
    fields: str
    """The field selector (`field_selector`)."""


WORK_FACTOR = 3
"""A list may run this many times `timeout` in all (the rest in the background) before it is cut."""
MAX_LIST_ITEMS = 150_000
"""Most objects kept from one list (the pods Kubernetes supports in one cluster); beyond, it is cut."""


def field_selector(pods: PodFilter) -> str:
    """What of a pod filter the API selects itself: the node and the phase (not `Unknown`, the
    records' word for a pod without one too); the owner is filtered after listing."""
    parts = [
        f"spec.nodeName={pods.node}" if pods.node else "",
        f"status.phase={pods.api_phase}" if pods.api_phase else "",
    ]
    return ",".join(p for p in parts if p)


class LiveSource:
    """Lists from the API servers on demand."""

    def __init__(
        self,
        registry: ContextRegistry,
        *,
        timeout: float = 5.0,
        ttl: float = 10.0,
        max_entries: int = 2048,
        max_workers: int = 16,
        per_context: int = 2,
        page_size: int = 500,
        max_items: int = MAX_LIST_ITEMS,
        timer: Callable[[], float] | None = None,
        fanout: Fanout | None = None,
    ) -> None:
        self._registry = registry
        self._timeout = timeout
        self._page_size = page_size
        self._max_items = max_items
        self._owns_fanout = fanout is None
        self.fanout = fanout or Fanout(timeout=timeout, max_workers=max_workers, per_context=per_context)
        """The pool and per-cluster bound every call into a cluster shares: the server's one
        Fanout (which it closes), or one of this source's own (closed with it)."""
        # The timer is looked up at call time so freezegun (or a test's fake clock) moves it.
        clock = timer or (lambda: time.monotonic())
        # A forbidden answer is kept as long as a list: asking again on every question would only
        # get the same 403.
        self._cache: TTLCache[_Key, Snapshot | ClusterForbiddenError] | None = (
            TTLCache(maxsize=max_entries, ttl=ttl, timer=clock) if ttl > 0 else None
        )
        self._lock = threading.Lock()
        self._inflight: dict[_Key, Future[Snapshot]] = {}

    def fetch(
        self,
        contexts: Sequence[ContextInfo],
        kind: Kind,
        namespace: str | None = None,
        selector: LabelSelector | None = None,
        keeps: Keeps = "all",
        pod_filter: PodFilter | None = None,
    ) -> dict[str, Snapshot | ClusterError]:
        namespace = namespace if kind.namespaced else None
        selector_text = str(selector) if selector else ""
        wanted = pod_filter if kind is Kind.POD and pod_filter else None
        fields = field_selector(wanted) if wanted else ""
        # The cached kinds are read with the server's identity whoever asks (issue 20, rule 2):
        # the lists and their TTL cache are shared by every caller, and filtered per caller above.
        with impersonation.as_server(), self.fanout.batch() as asked:
            futures = {
                ctx.name: self._future(ctx, kind, namespace, selector_text, fields) for ctx in contexts
            }
        late = f"no complete answer within {self._timeout:g}s"
        if self._cache is not None:
            late += "; the list continues in the background"
        answers = self.fanout.gather(futures, late=late, asked=asked)
        if wanted is None or not wanted.owner:
            return answers
        # The API cannot select by owner: the listed pods are filtered here.
        return {
            name: replace(a, items=tuple(r for r in a.items if wanted.matches(r)))  # type: ignore[arg-type]
            if isinstance(a, Snapshot)
            else a
            for name, a in answers.items()
        }

    def _future(
        self, ctx: ContextInfo, kind: Kind, namespace: str | None, selector: str, fields: str
    ) -> Future[Snapshot]:
        key = _Key(ctx.name, kind, namespace, selector, fields)
        with self._lock:
            if self._cache is not None:
                cached = self._cache.get(key)
                if cached is not None:
                    return settled(cached)
            running = self._inflight.get(key)
            if running is not None:
                return running
            future = self.fanout.submit(
                ctx,
                lambda deadline: self._list(ctx, key, deadline),
                # Going on past the question's timeout only serves the TTL cache: none, no reason.
                budget=self._timeout * (WORK_FACTOR if self._cache is not None else 1),
                what=f"the list of {kind.value}",
            )
            self._inflight[key] = future
        future.add_done_callback(lambda f: self._settle(key, f))
        return future

    def _settle(self, key: _Key, future: Future[Snapshot]) -> None:
        with self._lock:
            self._inflight.pop(key, None)
            if self._cache is None or future.cancelled():
                return
            error = future.exception()
            if error is None:
                self._cache[key] = future.result()
            elif isinstance(error, ClusterForbiddenError):
                self._cache[key] = error

    def _list(self, ctx: ContextInfo, key: _Key, deadline: deadlines.Deadline) -> Snapshot:
        started = utcnow()
        items: list[Record] = []
        note = None
        for obj in self._pages(ctx, key, deadline):
            if len(items) >= self._max_items:
                note = f"list cut at {self._max_items} {key.kind.value}: the rest was not read"
                break
            items.append(to_record(key.kind, ctx.name, obj))
        if note:
            log.warning("%s: %s", ctx.name, note)
        return Snapshot(
            context=ctx.name, kind=key.kind, items=tuple(items), as_of=started, source="live", note=note
        )

    def _pages(self, ctx: ContextInfo, key: _Key, deadline: deadlines.Deadline) -> Iterator[Raw]:
        call = list_call(self._registry.api_client(ctx), key.kind, key.namespace)
        token: str | None = None
        while True:
            if deadline.expired:
                raise ClusterTimeoutError("deadline passed between pages")
            response: Any = call(
                label_selector=key.selector or None,
                field_selector=key.fields or None,
                limit=self._page_size,
                _continue=token,
                _preload_content=False,
                _request_timeout=(self._timeout, self._timeout),
            )
            data = response.data
            with decoding(deadline):  # the caller builds each page's records inside the slot
                body = orjson.loads(data)
                yield from body.get("items") or ()
            previous, token = token, (body.get("metadata") or {}).get("continue") or None
            if not token:
                return
            if token == previous:
                raise ClusterApiError("the API server returned the same continue token twice")

    def forget(self, context: str) -> None:
        """Drop what the TTL cache holds for `context` (it was just written to: the next question
        must see the write, not a list from before it)."""
        with self._lock:
            if self._cache is not None:
                for key in [k for k in self._cache if k.context == context]:
                    self._cache.pop(key, None)

    def start(self) -> None:
        """Nothing runs in the background until a question is asked."""

    def cache_status(self) -> CacheStatus | None:
        return None

    def close(self) -> None:
        """Stop: no new list starts, running ones are cut now (their threads end at once)."""
        if self._owns_fanout:
            self.fanout.close()
