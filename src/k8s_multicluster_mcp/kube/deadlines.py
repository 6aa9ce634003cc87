"""A deadline for every call into a cluster, enforced from outside the thread doing the call.

Socket timeouts bound each read, not an operation: a server that sends one byte every two seconds,
or an exec credential plugin that never returns, would hold a worker thread forever. A `Deadline`
bounds the whole operation instead. Work runs inside `deadline(seconds)`; the connections it uses
(the pools `track_connections` gives the kubernetes client register them) and the credential
plugins it starts (`execplugin`'s provider registers them) belong to that deadline. When it passes, or when
`cancel_all()` is called at shutdown, one watchdog thread shuts those sockets down and kills those
processes, so the blocked call raises at once and the thread is free again.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Killable(Protocol):
    def kill_group(self) -> None: ...


class Deadline:
    """The time budget of one operation, and what must be stopped when it runs out."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires_at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._connections: set[Any] = set()
        self._processes: set[Killable] = set()
        self._expired = False
        self._finished = False

    def remaining(self) -> float:
        return max(0.0, self.expires_at - time.monotonic())

    @property
    def expired(self) -> bool:
        return self._expired or time.monotonic() >= self.expires_at

    def own_connection(self, conn: Any) -> None:
        with self._lock:
            if self._finished:
                return
            conn._k8s_mcp_owner = self
            self._connections.add(conn)
            expired = self._expired
        if expired:
            _cut(conn)

    def own_process(self, process: Killable) -> None:
        with self._lock:
            self._processes.add(process)
            expired = self._expired
        if expired:
            process.kill_group()

    def disown_process(self, process: Killable) -> None:
        with self._lock:
            self._processes.discard(process)

    def expire(self) -> None:
        """Cut this operation's sockets and kill its plugins; the blocked call then fails fast."""
        with self._lock:
            if self._finished:
                return
            self._expired = True
            connections = [c for c in self._connections if getattr(c, "_k8s_mcp_owner", None) is self]
            processes = list(self._processes)
        for conn in connections:
            _cut(conn)
        for process in processes:
            process.kill_group()

    def _finish(self) -> None:
        with self._lock:
            self._finished = True
            for conn in self._connections:
                if getattr(conn, "_k8s_mcp_owner", None) is self:
                    conn._k8s_mcp_owner = None
            self._connections.clear()


def _cut(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError):
        # socket.socket.shutdown, not SSLSocket.shutdown: the reading thread still owns the TLS
        # object; shutting the descriptor down makes its pending read return at once.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that expires deadlines when their time comes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._active: set[Deadline] = set()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, item: Deadline) -> None:
        with self._cond:
            self._active.add(item)
            heapq.heappush(self._heap, (item.expires_at, next(self._order), item))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="k8s-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()

    def remove(self, item: Deadline) -> None:
        with self._cond:
            self._active.discard(item)

    def active(self) -> list[Deadline]:
        with self._cond:
            return list(self._active)

    def _run(self) -> None:
        while True:
            due: list[Deadline] = []
            with self._cond:
                while self._heap and (
                    self._heap[0][2] not in self._active or self._heap[0][0] <= time.monotonic()
                ):
                    _, _, item = heapq.heappop(self._heap)
                    if item in self._active:
                        due.append(item)
                if not due:
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                    continue
            for item in due:
                log.debug("deadline of %.1fs passed; cutting its connections and plugins", item.seconds)
                item.expire()


_watchdog = _Watchdog()
_local = threading.local()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Run the enclosed cluster calls of this thread under one deadline of `seconds`."""
    item = Deadline(seconds)
    previous: Deadline | None = getattr(_local, "current", None)
    _local.current = item
    _watchdog.add(item)
    try:
        yield item
    finally:
        _watchdog.remove(item)
        item._finish()
        _local.current = previous


def current() -> Deadline | None:
    """The deadline this thread is working under, if any."""
    return getattr(_local, "current", None)


def cancel_all() -> None:
    """Expire every running deadline now (shutdown): no cluster call may outlive the process."""
    for item in _watchdog.active():
        item.expire()


@functools.cache
def _owned_pools() -> dict[str, type[Any]]:
    """Pool classes whose connections belong to the sending thread's deadline until released
    (built on first use, so urllib3 loads with the kubernetes client, not at server start)."""
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Owned:
        def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
            item = current()
            if item is not None:
                item.own_connection(conn)
                if item.expired:
                    raise TimeoutError("the operation's deadline passed before the request was sent")
            response = super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]
            if item is not None and item.expired:
                # It expired while this connection was still being opened (no socket to cut then).
                _cut(conn)
            return response

        def _put_conn(self, conn: Any) -> None:
            if conn is not None:
                conn._k8s_mcp_owner = None
            super()._put_conn(conn)  # type: ignore[misc]

    class OwnedHTTPConnectionPool(Owned, HTTPConnectionPool):
        pass

    class OwnedHTTPSConnectionPool(Owned, HTTPSConnectionPool):
        pass

    return {"http": OwnedHTTPConnectionPool, "https": OwnedHTTPSConnectionPool}


def track_connections(manager: Any) -> None:
    """Make the pools of `manager` (the kubernetes client's) hand their connections to deadlines.

    A SOCKS proxy manager has pool classes of its own and is left as it is: its calls are bounded
    by the socket timeouts only.
    """
    from urllib3 import PoolManager, ProxyManager

    if type(manager) in (PoolManager, ProxyManager):
        manager.pool_classes_by_scheme = _owned_pools()
        manager.clear()


__all__ = ["Deadline", "cancel_all", "current", "deadline", "track_connections"]
