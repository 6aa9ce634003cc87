"""Fixtures for tests against real API servers.

`fleet` (session): three clusters from the chosen backend (`--backend` / K8S_MCP_TEST_BACKEND:
`controlplane`, the default, or `kind`). `namespace`: a fresh namespace in every cluster.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration import seed
from integration.backends import ControlPlaneFleet, Fleet, KindFleet, docker_available

BACKEND_ENV = "K8S_MCP_TEST_BACKEND"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("controlplane", "kind"),
        default=os.environ.get(BACKEND_ENV, "controlplane"),
        help=f"real clusters to test against (env {BACKEND_ENV}; default controlplane)",
    )


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
