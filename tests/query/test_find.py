"""`find_pods`: node, owner and phase go to the source as a `PodFilter`, and the query applies every
filter itself, so a source that narrows and one that does not give the same answer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from k8s_multicluster_mcp.common.errors import ClusterError, InvalidNameError, UserError
from k8s_multicluster_mcp.kube.contexts import ContextRegistry
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.podfilter import Owner, PodFilter
from k8s_multicluster_mcp.model.records import PodRecord, Record
from k8s_multicluster_mcp.query import fleet
from k8s_multicluster_mcp.query.state import ClusterState
from k8s_multicluster_mcp.render import fleet as render_fleet
from k8s_multicluster_mcp.sources.base import Snapshot
from tests.conftest import WriteKubeconfig
from tests.fakes import NOW, FakeSource, pod


def placed(context: str, name: str, node: str, owner: tuple[str, str], phase: str = "Running") -> Record:
    record = pod(context, "shop", name)
    assert isinstance(record, PodRecord)
    template_hash = owner[1].rpartition("-")[2] if owner[0] == "ReplicaSet" else None
    return replace(record, node=node, owner_kind=owner[0], owner_name=owner[1], phase=phase,
                   labels={"pod-template-hash": template_hash} if template_hash else {})  # fmt: skip


PODS = {
    "a": [placed("a", "web-5d8f7-x", "n1", ("ReplicaSet", "web-5d8f7")),
          placed("a", "web-5d8f7-y", "n2", ("ReplicaSet", "web-5d8f7"), "Pending"),
          placed("a", "db-0", "n1", ("StatefulSet", "db"))],
    "b": [placed("b", "web-6c4a9-z", "n1", ("ReplicaSet", "web-6c4a9"), "Failed")],
}  # fmt: skip


class NarrowingSource(FakeSource):
    """Returns only the pods the filter matches (as the watch cache does)."""

    def answer(
        self, context: str, kind: Kind, namespace: str | None, pod_filter: PodFilter | None
    ) -> Snapshot | ClusterError:
        answer = super().answer(context, kind, namespace, pod_filter)
        if not (isinstance(answer, Snapshot) and pod_filter):
            return answer
        return replace(
            answer, items=tuple(r for r in answer.items if isinstance(r, PodRecord) and pod_filter.matches(r))
        )


@pytest.fixture
def registry(write_kubeconfig: WriteKubeconfig, tmp_path: Path) -> ContextRegistry:
    write_kubeconfig("fleet.yaml", {"a": "https://127.0.0.1:1", "b": "https://127.0.0.1:2"})
    return ContextRegistry(directory=tmp_path / "kube")


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ({"node": "n1"}, ["a/db-0", "a/web-5d8f7-x", "b/web-6c4a9-z"]),
        ({"owner": "Deployment/web"}, ["a/web-5d8f7-x", "a/web-5d8f7-y", "b/web-6c4a9-z"]),
        ({"owner": "ReplicaSet/web-5d8f7"}, ["a/web-5d8f7-x", "a/web-5d8f7-y"]),
        ({"owner": "db"}, ["a/db-0"]),
        ({"phase": " pending "}, ["a/web-5d8f7-y"]),
        ({"node": "n1", "owner": "web", "phase": "running"}, ["a/web-5d8f7-x"]),
        ({"owner": "web", "name": "*-z"}, ["b/web-6c4a9-z"]),
        ({"image": "w", "name": "db"}, ["a/db-0"]),
        ({"image": "nginx"}, []),
    ],
)
def test_a_narrowing_source_and_one_that_lists_everything_give_the_same_answer(
    registry: ContextRegistry, asked: dict[str, str], expected: list[str]
) -> None:
    answers = [
        fleet.find_pods(ClusterState(registry, source), now=NOW, **asked)  # type: ignore[arg-type]
        for source in (FakeSource(dict(PODS)), NarrowingSource(dict(PODS)))
    ]
    assert answers[0] == answers[1]
    assert [f"{p.context}/{p.name}" for p in answers[0].items] == expected
    assert {c.context: c.count for c in answers[0].clusters} == {
        ctx: sum(name.startswith(f"{ctx}/") for name in expected) for ctx in ("a", "b")
    }, "each cluster's count is its matches"


def test_node_owner_and_phase_reach_the_source_and_name_and_image_do_not(registry: ContextRegistry) -> None:
    source = NarrowingSource(dict(PODS))
    state = ClusterState(registry, source)
    fleet.find_pods(state, node="n1", owner="Deployment/web", phase="Running")
    fleet.find_pods(state, name="web", image="w")
    assert source.filters == [PodFilter("n1", Owner("Deployment", "web"), "Running"), None]


def test_found_pods_carry_the_same_fields_as_before(registry: ContextRegistry) -> None:
    found = fleet.find_pods(ClusterState(registry, FakeSource(dict(PODS))), owner="db", now=NOW).items
    assert found == [
        fleet.FoundPod("a", "shop", "db-0", "Running", "1/1", 0, ["w"], "n1", "StatefulSet/db", 3600.0)
    ]


def test_malformed_owner_and_node_are_user_errors_before_any_request(registry: ContextRegistry) -> None:
    source = NarrowingSource(dict(PODS))
    state = ClusterState(registry, source)
    with pytest.raises(UserError, match=r"^invalid owner 'a/b/c': give Kind/name"):
        fleet.find_pods(state, owner="a/b/c")
    with pytest.raises(InvalidNameError, match=r"^invalid node name 'n1,spec.x=y'"):
        fleet.find_pods(state, node="n1,spec.x=y")
    assert not getattr(source, "filters", [])


def test_a_limit_builds_the_first_rows_and_counts_every_match(registry: ContextRegistry) -> None:
    state = ClusterState(registry, FakeSource(dict(PODS)))
    every = fleet.find_pods(state, owner="web", now=NOW)
    first = fleet.find_pods(state, owner="web", now=NOW, limit=2)
    assert first.items == every.items[:2] and len(every.items) == 3
    assert first.by_context == every.by_context == {"a": 2, "b": 1} and first.total == 3
    assert render_fleet.found_pods(first, 2, NOW) == render_fleet.found_pods(every, 2, NOW)
    text, output = render_fleet.found_pods(first, 2, NOW)
    assert (output.total, output.shown) == (3, 2)
    assert "3 pods match" in text and "1 more not shown" in text
