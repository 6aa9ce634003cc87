"""Questions tried on the event loop: memory may answer them, nothing in them may block.

A read answered from memory (the `--watch` cache, the on-demand TTL cache) costs a millisecond or
a few; handing it to a worker thread and back cost 0.3-0.6 ms more over stdio (measured:
benchmarks/README.md, "Session 10"). So `tools.base.ask` first runs a read on the event loop
inside `memory_only()`, where whatever would wait on I/O raises `WouldBlock` instead: a call to a
cluster or waiting for one (`Fanout`), an API client or request (`ContextRegistry.api_client`, the
client's `call_api`), the first read of the kubeconfig files or a context name the contexts in
memory do not know (`ContextRegistry`; a due re-check runs in the background instead), starting a
context's watches (`WatchSource`), or more than `query.state.ON_THE_LOOP` records to go through
(CPU work that long belongs where the loop still gets its turns). The question is then asked
again in a worker thread; what it did before (reads, no effects) is lost. Anything new that may
block (a lock held across I/O, a file, a process) must call `check` first.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_memory_only: contextvars.ContextVar[bool] = contextvars.ContextVar("k8s_mcp_memory_only", default=False)


class WouldBlock(BaseException):
    """Raised inside `memory_only()` instead of waiting on I/O. A BaseException: no handler of
    cluster errors (`except Exception`) may take it for a cluster's answer."""


@contextlib.contextmanager
def memory_only() -> Iterator[None]:
    """Inside: `check` raises `WouldBlock`."""
    token = _memory_only.set(True)
    try:
        yield
    finally:
        _memory_only.reset(token)


def active() -> bool:
    """Inside `memory_only()`: whatever would block must not."""
    return _memory_only.get()


def check(what: str) -> None:
    """About to block on `what` (I/O, or waiting for it): raise `WouldBlock` inside `memory_only()`."""
    if _memory_only.get():
        raise WouldBlock(what)


__all__ = ["WouldBlock", "active", "check", "memory_only"]
