"""What the access tests share: two clusters (`one`, `two`) and the Fanout reviews run on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.kube.fanout import Fanout
from tests.conftest import WriteKubeconfig


@pytest.fixture
def two_clusters(write_kubeconfig: WriteKubeconfig, tmp_path: Path) -> ContextRegistry:
    write_kubeconfig("fleet.yaml", {"one": "https://127.0.0.1:1", "two": "https://127.0.0.1:2"})
    return ContextRegistry(directory=tmp_path / "kube")


@pytest.fixture
def fanout() -> Iterator[Fanout]:
    made = Fanout(timeout=5)
    yield made
    made.close()
