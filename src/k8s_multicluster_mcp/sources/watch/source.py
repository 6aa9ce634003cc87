"""`--watch`: answers from an in-memory cache kept current by one reflector per (context, kind);
contexts that reach the same cluster with the same credentials (`ContextInfo.identity_key`: an
alias, the same entry in two files, one context per namespace for one user) share one set, watched
with the first one's credentials and answered under the name of the context asked.

The same `ClusterSource` contract as the live source, so the query layer and every tool work
unchanged; only `Snapshot.source` ("cache"), `as_of` and the notes say where an answer came from.
Pods, deployments and nodes are cached; other kinds (namespaces) are always answered live. When
the cache cannot answer a context (starting, not synced, stale, another namespace) that context
is answered by the live source, in the same parallel fan-out as any on-demand question.

A manager thread reconciles the reflectors with the kubeconfig every couple of seconds: new
contexts get reflectors, removed ones lose them, a context whose entry changed (another server,
user or namespace) is restarted, and one nobody asked about for `--idle-ttl` is stopped and its
memory freed; the next question about it is answered live and starts its watches again.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.errors import ClusterError, ClusterForbiddenError
from k8s_multicluster_mcp.common.selectors import LabelSelector
from k8s_multicluster_mcp.kube import noblock
from k8s_multicluster_mcp.kube.client import load_kubernetes
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.podfilter import PodFilter
from k8s_multicluster_mcp.model.records import Record
from k8s_multicluster_mcp.model.triage import Rules
from k8s_multicluster_mcp.sources.base import CacheStatus, ClusterSource, Keeps, Snapshot
from k8s_multicluster_mcp.sources.watch import policy
from k8s_multicluster_mcp.sources.watch.store import ChangeListener, KindStore

if TYPE_CHECKING:
    from k8s_multicluster_mcp.sources.watch.reflector import Reflector

log = logging.getLogger(__name__)

KINDS = (Kind.POD, Kind.DEPLOYMENT, Kind.NODE)
RECONCILE_EVERY = 2.0
STOP_GRACE = 1.5
"""Seconds `close()` waits for the reflector threads (they end at once: their requests are cut)."""


class WatchSource:
    """Cluster state from the watch cache, with the live source behind it."""

    def __init__(
        self,
        registry: ContextRegistry,
        live: ClusterSource,
        *,
        request_timeout: float = 5.0,
        list_timeout: float = 60.0,
        stale_after: float = 120.0,
        idle_ttl: float = 4 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: ChangeListener | None = None,
        streaming: bool = True,
        rules: Rules | None = None,
    ) -> None:
        self._registry = registry
        self._live = live
        self._timeout = request_timeout
        self._list_timeout = list_timeout
        self._stale_after = stale_after
        self._idle_ttl = idle_ttl
        self._clock = clock
        self._on_change = on_change
        self._streaming = streaming
        self._rules = rules
        """Failure triage's thresholds, for the pods stores' failing sets (the query layer's)."""
        self._lock = threading.Lock()
        self._contexts: dict[str, ContextInfo] = {}
        """Contexts with watches, by name."""
        self._reflectors: dict[tuple[str, Kind], Reflector] = {}
        """By watch key (`_key`) and kind: contexts that see alike share them."""
        self._members: dict[str, list[str]] = {}
        """Per watch key, the contexts its reflectors serve (the first one's credentials watch)."""
        self._last_asked: dict[str, float] = {}
        self._idle: set[str] = set()
        self._started_at = clock()
        self._stop = threading.Event()
        self._manager = threading.Thread(target=self._manage, name="k8s-watch manager", daemon=True)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the watches of every allowed context in the background; returns at once."""
        if not self._manager.is_alive() and not self._stop.is_set():
            self._manager.start()

    def _manage(self) -> None:
        frozen = policy.Frozen()
        while not self._stop.is_set():
            try:
                self.reconcile()
                frozen = self._freeze_when_due(frozen)
            except Exception:
                log.exception("reconciling the watch cache with the kubeconfig failed")
            self._stop.wait(RECONCILE_EVERY)

    def _freeze_when_due(self, frozen: policy.Frozen) -> policy.Frozen:
        """After more reflectors synced, or many events, move what the cache holds out of the
        collector's sight (`policy.freeze_due`).

        A full collection walks every container object: ~0.3 s with 100k cached pods, holding the
        GIL (and so the event loop). Records form no reference cycles and are freed by reference
        counting alone, so the long-lived ones are frozen (`gc.freeze`) once they are loaded, and
        again as events replace them. A full collection first, so no garbage cycle is frozen.
        """
        with self._lock:
            reflectors = list(self._reflectors.values())
        synced, events = sum(r.synced for r in reflectors), sum(r.events for r in reflectors)
        if not policy.freeze_due(frozen, synced, events):
            # Reflectors that stopped lower both sums: what starts again counts from there.
            return policy.Frozen(min(synced, frozen.synced), min(events, frozen.events))
        gc.collect()
        gc.freeze()
        return policy.Frozen(synced, events)

    def reconcile(self) -> None:
        """Bring the reflectors in line with the kubeconfig contexts and the idle rule."""
        contexts = self._registry.inventory().contexts
        load_kubernetes()  # before the lock, which questions on the event loop take (`_reflector_for`)
        now = self._clock()
        stopping: list[Reflector] = []
        starting: list[Reflector] = []
        with self._lock:
            if self._stop.is_set():
                return
            for name, running in list(self._contexts.items()):
                current = contexts.get(name)
                quiet = policy.idle(self._last_asked.get(name, self._started_at), now, self._idle_ttl)
                if current != running or quiet:
                    stopped, restarted = self._remove(name)
                    stopping.extend(stopped)
                    starting.extend(restarted)
                    if quiet and current == running:
                        self._idle.add(name)
                        log.info("%s: no question for %.0fs; watches stopped", name, self._idle_ttl)
            self._idle &= set(contexts)
            for name, ctx in contexts.items():
                if name not in self._contexts and name not in self._idle:
                    starting.extend(self._add(ctx))
        for reflector in stopping:
            reflector.stop()
        for reflector in starting:
            if reflector not in stopping:
                reflector.start()

    def _add(self, ctx: ContextInfo) -> list[Reflector]:
        """Watches for `ctx`: those of a context that sees alike (same cluster, same credentials)
        when one has them, else new ones (returned, to be started outside the lock)."""
        self._contexts[ctx.name] = ctx
        members = self._members.setdefault(_key(ctx), [])
        members.append(ctx.name)
        if len(members) > 1:
            return []
        # Loads the kubernetes client: first done in the background, after the server started.
        load_kubernetes()
        from k8s_multicluster_mcp.sources.watch.reflector import Reflector

        made = []
        for kind in KINDS:
            store = KindStore(ctx.name, kind, self._on_change, self._rules)
            reflector = Reflector(
                ctx, kind, self._registry, store, request_timeout=self._timeout,
                list_timeout=self._list_timeout, streaming=self._streaming,
            )  # fmt: skip
            self._reflectors[(_key(ctx), kind)] = reflector
            made.append(reflector)
        return made

    def _remove(self, name: str) -> tuple[list[Reflector], list[Reflector]]:
        """Drop `name`'s watches: (reflectors to stop, reflectors to start). Shared watches stay
        while another context uses them; if `name`'s credentials were the ones watching, they
        restart under the next context's."""
        ctx = self._contexts.pop(name, None)
        if ctx is None:
            return [], []
        key = _key(ctx)
        members = self._members.get(key, [])
        owner = members[0] if members else None
        if name in members:
            members.remove(name)
        if members and owner != name:
            return [], []
        stopping = [self._reflectors.pop((key, kind)) for kind in KINDS if (key, kind) in self._reflectors]
        self._members.pop(key, None)
        starting: list[Reflector] = []
        for other in members:
            starting.extend(self._add(self._contexts[other]))
        return stopping, starting

    def close(self) -> None:
        """Stop every watch now; the threads end within `STOP_GRACE` seconds."""
        with self._lock:
            self._stop.set()
            reflectors = list(self._reflectors.values())
            self._reflectors.clear()
            self._contexts.clear()
            self._members.clear()
        for reflector in reflectors:
            reflector.stop()
        end = time.monotonic() + STOP_GRACE
        for reflector in reflectors:
            reflector.join(max(0.0, end - time.monotonic()))
        self._live.close()

    # -- answering -----------------------------------------------------------------------------

    def _reflector_for(self, ctx: ContextInfo, kind: Kind, now: float) -> Reflector | None:
        """The reflector answering `kind` for `ctx`; notes the question (idle rule) and wakes an
        idle or unknown context's watches (this question is then answered live)."""
        if ctx.name not in self._contexts:  # read without the lock: starting watches is no memory answer
            noblock.check(f"starting the watches of {ctx.name}")
        starting: list[Reflector] = []
        with self._lock:
            self._last_asked[ctx.name] = now
            if not self._stop.is_set() and ctx.name not in self._contexts:
                self._idle.discard(ctx.name)
                starting = self._add(ctx)
            reflector = self._reflectors.get((_key(ctx), kind))
        for made in starting:
            made.start()
        return None if starting else reflector

    def fetch(
        self,
        contexts: Sequence[ContextInfo],
        kind: Kind,
        namespace: str | None = None,
        selector: LabelSelector | None = None,
        keeps: Keeps = "all",
        pod_filter: PodFilter | None = None,
    ) -> dict[str, Snapshot | ClusterError]:
        if kind not in KINDS:
            return self._live.fetch(contexts, kind, namespace, selector)
        pods = pod_filter if kind is Kind.POD and pod_filter else None
        now, as_of = self._clock(), utcnow()
        out: dict[str, Snapshot | ClusterError] = {}
        live: list[ContextInfo] = []
        notes: dict[str, str] = {}
        stale: dict[str, Reflector] = {}
        for ctx in contexts:
            reflector = self._reflector_for(ctx, kind, now)
            decision, why = policy.plan(
                reflector.view() if reflector else None, namespace, now, self._stale_after
            )
            if decision == "cache" and reflector is not None:
                out[ctx.name] = self._snapshot(
                    reflector, namespace, keeps=keeps, counted=selector is None, pods=pods,
                    context=ctx.name, as_of=as_of,
                )  # fmt: skip
            elif decision == "forbidden":
                out[ctx.name] = ClusterForbiddenError(why or f"may not list {kind.value}")
            else:
                live.append(ctx)
                if why:
                    notes[ctx.name] = why
                if decision == "stale-or-live" and reflector is not None:
                    stale[ctx.name] = reflector
        if live:
            for name, answer in self._live.fetch(live, kind, namespace, selector, pod_filter=pods).items():
                if isinstance(answer, ClusterError) and name in stale:
                    out[name] = self._snapshot(stale[name], namespace, answer, keeps, pods=pods, context=name)
                elif isinstance(answer, Snapshot) and name in notes:
                    out[name] = replace(answer, note="; ".join(n for n in (answer.note, notes[name]) if n))
                else:
                    out[name] = answer
        return out

    def _snapshot(
        self,
        reflector: Reflector,
        namespace: str | None,
        live_error: ClusterError | None = None,
        keeps: Keeps = "all",
        counted: bool = False,
        pods: PodFilter | None = None,
        context: str | None = None,
        as_of: datetime | None = None,
    ) -> Snapshot:
        """The cached objects; as of now while the watch is up, else as of when it went down.
        `counted`: with the store's counts and failing pods of every object in `namespace` (pods
        wanted for their failures alone are then read from the failing set, not listed).
        `pods`: only the pods it matches, from the store's indexes (then without counts).
        `context`: the context asked, when the reflector serves several (its records keep the name
        of the one whose credentials watch; the query layer names them after the one asked).
        `as_of`: now, read once for every context of a question (default: read here)."""
        store = reflector.store
        counted = counted and not pods
        failing = store.failing(namespace) if counted else None
        tally = store.tally(namespace) if counted else None
        if pods:
            items: tuple[Record, ...] = store.select(namespace, pods)
        elif (keeps == "counts" and tally is not None) or (keeps == "attention" and failing is not None):
            items = ()
        elif keeps == "attention":
            items = store.needing_attention()
            if namespace is not None and items:
                items = tuple(r for r in items if getattr(r, "namespace", None) == namespace)
        else:
            items = reflector.store.select(namespace)
        down_since = reflector.unhealthy_since_wall
        note = stale = None
        if down_since is not None:
            note = f"watch down since {down_since:%H:%M:%S} UTC ({reflector.last_error})"
            if live_error is not None:
                note += f"; a live list failed too ({live_error.status}: {live_error.message})"
                stale = True
        return Snapshot(
            context=context or reflector.ctx.name,
            kind=reflector.kind,
            items=items,
            as_of=down_since or as_of or utcnow(),
            source="cache",
            note=note,
            stale=bool(stale),
            tally=tally,
            failing=failing,
        )

    def cache_status(self) -> CacheStatus:
        with self._lock:
            reflectors = [
                (r, tuple(self._members.get(key, ())[1:])) for (key, _), r in self._reflectors.items()
            ]
            idle = tuple(sorted(self._idle))
        entries = tuple(
            replace(r.status(), shared=shared) if shared else r.status() for r, shared in reflectors
        )
        return CacheStatus(entries=entries, idle=idle)


def _key(ctx: ContextInfo) -> str:
    """Contexts with one key see exactly the same (same cluster and credentials) and share
    watches; a context whose entry names no server is keyed by its name alone."""
    return f"identity:{ctx.identity_key}" if ctx.identity_key else f"context:{ctx.name}"


__all__ = ["KINDS", "WatchSource"]
