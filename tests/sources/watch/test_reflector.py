"""A watch reflector's thread never acts for a caller, even one whose question started it."""

from __future__ import annotations

import contextvars
import threading
from pathlib import Path

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.common.caller import Caller
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.impersonation import acting_as
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.sources.watch.reflector import Reflector
from k8s_multicluster_mcp.sources.watch.store import KindStore


class Seeing(Reflector):
    """A reflector whose work is to note whom its thread acts for."""

    seen: list[Caller | None]
    done: threading.Event

    def _run(self) -> None:
        self.seen.append(caller.current.get())
        self.done.set()


def test_a_reflector_started_inside_a_callers_request_runs_with_no_caller(tmp_path: Path) -> None:
    ctx = ContextInfo("a", "a", tmp_path / "kubeconfig", "a", "https://127.0.0.1:1", "u", None, "token")
    reflector = Seeing(ctx, Kind.POD, ContextRegistry(directory=tmp_path), KindStore("a", Kind.POD))
    reflector.seen, reflector.done = [], threading.Event()
    # Where new threads inherit the starting thread's context (Python 3.14 can), the thread's
    # target still runs in an empty one.
    inherited = contextvars.copy_context()
    inherited.run(caller.current.set, Caller(sub="1", user="alice"))
    inherited.run(reflector._thread._target)  # type: ignore[attr-defined]
    assert reflector.seen == [None]
    with acting_as(Caller(sub="1", user="alice")):
        reflector.start()
        assert reflector.done.wait(5)
    assert reflector.seen == [None, None]
