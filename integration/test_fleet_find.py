"""`k8s_fleet_find_pods` by node, owner and phase on 3 real clusters: the watch cache answers from
its indexes, the live source with field selectors (owner after listing), and both give exactly
the same answer, which is the expected one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integration import seed
from integration.backends import Fleet
from integration.test_fleet import eventually
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.query import fleet as queries
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.sources import LiveSource
from k8s_multicluster_mcp.sources.watch import WatchSource

TIMEOUT = 3.0
PODS = (  # cluster index, name, node, owner, status preset
    (0, "web-5d8f7-a", "n1", ("ReplicaSet", "web-5d8f7"), "running"),
    (0, "web-5d8f7-b", "n2", ("ReplicaSet", "web-5d8f7"), "pending"),
    (0, "db-0", "n1", ("StatefulSet", "db"), "running"),
    (1, "web-6c4a9-c", "n1", ("ReplicaSet", "web-6c4a9"), "error"),
    (1, "web-x", "n2", ("ReplicaSet", "web-x"), "running"),
    (2, "lone", None, None, "succeeded"),
)


@pytest.fixture(scope="module")
def states(fleet: Fleet) -> Iterator[dict[str, ClusterState]]:
    registry = ContextRegistry(directory=fleet.kubeconfig_dir)
    live = ClusterState(registry, LiveSource(registry, timeout=TIMEOUT, ttl=0))
    watch_source = WatchSource(
        registry, LiveSource(registry, timeout=TIMEOUT, ttl=0), request_timeout=TIMEOUT
    )
    watch_source.start()
    try:
        yield {"live": live, "watch": ClusterState(registry, watch_source)}
    finally:
        watch_source.close()
        live.source.close()


@pytest.fixture
def seeded(fleet: Fleet, namespace: str) -> str:
    for index, name, node, owner, preset in PODS:
        api = fleet.admin(fleet.contexts[index])
        template_hash = owner[1].rpartition("-")[2] if owner and owner[1] != "web-x" else None
        labels = {"pod-template-hash": template_hash} if template_hash else {}
        seed.create_pod(api, namespace, name, labels=labels, node=node, owner=owner)
        seed.set_pod_status(api, namespace, name, preset)
    return namespace


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ({"node": "n1"}, ["0/db-0", "0/web-5d8f7-a", "1/web-6c4a9-c"]),
        ({"node": "n2", "phase": "running"}, ["1/web-x"]),
        ({"owner": "Deployment/web"}, ["0/web-5d8f7-a", "0/web-5d8f7-b", "1/web-6c4a9-c"]),
        ({"owner": "ReplicaSet/web-5d8f7"}, ["0/web-5d8f7-a", "0/web-5d8f7-b"]),
        ({"owner": "web-x"}, ["1/web-x"]),
        ({"owner": "StatefulSet/db", "node": "n1"}, ["0/db-0"]),
        ({"phase": "Pending"}, ["0/web-5d8f7-b"]),
        ({"phase": "failed", "owner": "web"}, ["1/web-6c4a9-c"]),
        ({"phase": "Succeeded"}, ["2/lone"]),
        ({"phase": "Unknown"}, []),
        ({"node": "n3"}, []),
    ],
)
def test_find_by_node_owner_and_phase_is_the_same_live_and_cached(
    fleet: Fleet, states: dict[str, ClusterState], seeded: str, asked: dict[str, str], expected: list[str]
) -> None:
    names = {ctx: str(i) for i, ctx in enumerate(fleet.contexts)}

    def ask(mode: str) -> queries.FleetAnswer[queries.FoundPod]:
        return queries.find_pods(states[mode], fleet.contexts, namespace=seeded, **asked)  # type: ignore[arg-type]

    def check() -> None:
        live, cached = ask("live"), ask("watch")
        assert {c.source for c in cached.clusters} == {"cache"}
        found = [(p.context, p.namespace, p.name, p.phase, p.node, p.owner, p.images) for p in live.items]
        assert found == [
            (p.context, p.namespace, p.name, p.phase, p.node, p.owner, p.images) for p in cached.items
        ]
        assert [(c.context, c.status, c.count) for c in live.clusters] == [
            (c.context, c.status, c.count) for c in cached.clusters
        ]
        assert [f"{names[p.context]}/{p.name}" for p in live.items] == expected

    eventually(check)
