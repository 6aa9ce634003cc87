"""Fixtures for tests against real API servers.

`fleet` (session): three clusters from the chosen backend (`--backend` / K8S_MCP_TEST_BACKEND:
`controlplane`, the default, or `kind`). `namespace`: a fresh namespace in every cluster.
`real_fleet` (session): two local clusters with one real node each (kubelet, containerd,
controllers); `real_namespace`: a fresh namespace in both. Tests using them are marked `realnodes`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration import controlplane, seed
from integration.backends import ControlPlaneFleet, Fleet, KindFleet, RealFleet, docker_available

BACKEND_ENV = "K8S_MCP_TEST_BACKEND"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("controlplane", "kind"),
        default=os.environ.get(BACKEND_ENV, "controlplane"),
        help=f"real clusters to test against (env {BACKEND_ENV}; default controlplane)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whatever uses real nodes is marked `realnodes`, so `-m "not realnodes"` leaves it out."""
    for item in items:
        if {"real_fleet", "real_namespace"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.realnodes)


@pytest.fixture(scope="session")
def fleet(request: pytest.FixtureRequest) -> Iterator[Fleet]:
    backend = request.config.getoption("--backend")
    made: Fleet
    if backend == "kind":
        ok, why = docker_available()
        if not ok:
            pytest.skip(f"kind backend needs Docker: {why}")
        made = KindFleet()
    else:
        made = ControlPlaneFleet(Path(tempfile.mkdtemp(prefix="k8s-mcp-fleet-")))
    try:
        yield made
    finally:
        made.close()
        if isinstance(made, ControlPlaneFleet):
            _remove(made.workdir)


@pytest.fixture
def namespace(fleet: Fleet) -> Iterator[str]:
    name = f"t-{secrets.token_hex(4)}"
    for ctx in fleet.contexts:
        seed.create_namespace(fleet.admin(ctx), name)
    yield name
    for ctx in fleet.contexts:
        with contextlib.suppress(Exception):  # best effort: a test may have stopped the cluster
            seed.delete_namespace(fleet.admin(ctx), name)


@pytest.fixture
def running_fleet(fleet: Fleet) -> Iterator[Fleet]:
    """The fleet, with every cluster restarted afterwards if a test stopped one."""
    yield fleet
    for ctx in fleet.contexts:
        with contextlib.suppress(Exception):
            fleet.start(ctx)


@pytest.fixture(scope="session")
def real_fleet() -> Iterator[RealFleet]:
    """Two clusters with one real node each, started once per session in a workdir of their own;
    skipped (with the reason) where real nodes cannot run: not root, no cgroups, no containerd."""
    problem = controlplane.host_problem()
    if problem:
        pytest.skip(problem)
    made = RealFleet(Path(tempfile.mkdtemp(prefix="k8s-mcp-real-")), clusters=2, nodes=1)
    try:
        yield made
    finally:
        made.close()
        _remove(made.workdir)


def _remove(workdir: Path) -> None:
    """Delete a stopped fleet's workdir (etcd data, logs, kubeconfigs: about 64 MB), unless
    something is still mounted under it (a node `down` could not unmount): removing then would
    reach through the mount, so the directory is left for a look."""
    mounts = Path("/proc/self/mounts").read_text().split() if Path("/proc/self/mounts").exists() else []
    if any(m.startswith(f"{workdir}/") or m == str(workdir) for m in mounts):
        return
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def real_namespace(real_fleet: RealFleet) -> Iterator[str]:
    """A fresh namespace in every real cluster; deleting it afterwards deletes its pods for real."""
    name = f"r-{secrets.token_hex(4)}"
    for ctx in real_fleet.contexts:
        seed.create_namespace(real_fleet.admin(ctx), name)
        seed.wait_until_pods_can_start(real_fleet.admin(ctx), name)
    yield name
    for ctx in real_fleet.contexts:
        with contextlib.suppress(Exception):
            seed.delete_namespace(real_fleet.admin(ctx), name)
