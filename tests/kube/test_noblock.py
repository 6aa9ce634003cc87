"""`noblock`: inside `memory_only()`, what would wait on I/O raises `WouldBlock` (a new call to a
cluster, waiting for one, an API client, a due re-read of the kubeconfig files); what memory holds
is answered as always."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from k8s_multicluster_mcp.kube import noblock
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.fanout import Fanout, settled
from k8s_multicluster_mcp.kube.noblock import WouldBlock, memory_only
from tests.conftest import WriteKubeconfig
from tests.kube.test_fanout import ctx


def test_only_inside_memory_only_is_anything_refused() -> None:
    noblock.check("a call")
    with memory_only(), pytest.raises(WouldBlock, match="a call"):
        noblock.check("a call")
    noblock.check("a call")


def test_would_block_is_no_exception_a_cluster_error_handler_takes() -> None:
    assert not issubclass(WouldBlock, Exception)


def test_a_new_call_or_waiting_for_one_is_refused_an_answer_at_hand_is_not() -> None:
    fanout = Fanout(timeout=5)
    release = threading.Event()
    sent: list[str] = []
    try:
        running = fanout.submit(ctx("a"), lambda _: release.wait(10), budget=10, what="a slow list")
        with memory_only():
            with pytest.raises(WouldBlock, match="the list of pods"):
                fanout.submit(ctx("b"), lambda _: sent.append("b"), budget=10, what="the list of pods")
            with pytest.raises(WouldBlock, match="one call"):
                fanout.one(ctx("b"), lambda _: sent.append("b"), budget=10, what="one call")
            assert fanout.gather({"c": settled("cached")}) == {"c": "cached"}
            with pytest.raises(WouldBlock, match="waiting for clusters"):
                fanout.gather({"a": running, "c": settled("cached")})
        assert sent == [], "nothing refused was sent"
        release.set()
        assert fanout.gather({"a": running}) == {"a": True}
    finally:
        release.set()
        fanout.close()


def test_from_memory_files_are_rechecked_in_the_background_and_no_client_is_built(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig
) -> None:
    now = [0.0]
    registry = ContextRegistry(directory=tmp_path / "kube", clock=lambda: now[0])
    path = write_kubeconfig("one", {"first": "https://1"})
    assert list(registry.inventory().contexts) == ["first"]
    first = registry.resolve_one("first")
    path.write_text(path.read_text().replace("first", "renamed"))
    os.utime(path, ns=(1, 10**18))
    now[0] += 5
    with memory_only():
        # The re-check is due: the contexts as last read answer, a thread re-reads the files.
        assert list(registry.inventory().contexts) == ["first"]
        with pytest.raises(WouldBlock, match="API client of first"):
            registry.api_client(first)
    for _ in range(100):
        if list(registry.inventory().contexts) == ["renamed"]:
            break
        threading.Event().wait(0.05)
    assert list(registry.inventory().contexts) == ["renamed"]
    with memory_only():
        # A name the contexts in memory do not know is told from the files, in a thread.
        with pytest.raises(WouldBlock, match="kubeconfig files as they are now"):
            registry.resolve("first")
        with pytest.raises(WouldBlock, match="kubeconfig files as they are now"):
            registry.resolve_one("nope")
        assert [c.name for c in registry.resolve("renamed")] == ["renamed"]


def test_the_first_read_of_the_files_is_not_made_from_memory(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig
) -> None:
    write_kubeconfig("one", {"first": "https://1"})
    registry = ContextRegistry(directory=tmp_path / "kube")
    with memory_only(), pytest.raises(WouldBlock, match="reading the kubeconfig files"):
        registry.inventory()
