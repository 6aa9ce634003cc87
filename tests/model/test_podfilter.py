"""What a pod search's owner, node and phase match, and how a malformed owner is refused."""

from __future__ import annotations

from typing import Any

import pytest

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.model.podfilter import Owner, PodFilter, owners_of
from k8s_multicluster_mcp.model.records import PodRecord, pod_record


def pod(owner: tuple[str, str] | None = None, hash_label: str | None = None, **spec: Any) -> PodRecord:
    meta: dict[str, Any] = {"name": "p", "namespace": "shop", "labels": {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    if hash_label:
        meta["labels"]["pod-template-hash"] = hash_label
    raw = {"metadata": meta, "spec": {"containers": [{"name": "c", "image": "i"}], **spec},
           "status": {"phase": "Running"}}  # fmt: skip
    record = pod_record("cp-1", raw)
    assert isinstance(record, PodRecord)
    return record


def test_a_deployments_replicaset_answers_to_both() -> None:
    web = pod(("ReplicaSet", "web-7d9f"), "7d9f")
    assert owners_of(web) == (("ReplicaSet", "web-7d9f"), ("Deployment", "web"))
    for asked in ("ReplicaSet/web-7d9f", "Deployment/web", "deployment/web", "web", "web-7d9f"):
        assert Owner.parse(asked).matches(web), asked
    for asked in ("Deployment/web-7d9f", "ReplicaSet/web", "StatefulSet/web", "we"):
        assert not Owner.parse(asked).matches(web), asked


def test_owner_matches_exactly_what_owners_of_lists() -> None:
    pods = [pod(o, h) for o in (None, ("ReplicaSet", "web-7d9f"), ("ReplicaSet", "web-x-7d9f"),
                                ("ReplicaSet", "web7d9f"), ("StatefulSet", "web"), ("Job", "web-7d9f"))
            for h in (None, "7d9f", "x-7d9f", "9")]  # fmt: skip
    for asked in ("web", "web-x", "web-7d9f", "we", "Deployment/web", "deployment/web-x", "ReplicaSet/web-7d9f",
                  "Job/web-7d9f", "StatefulSet/web", "Deployment/web-7d9f"):  # fmt: skip
        owner = Owner.parse(asked)
        for p in pods:
            listed = any(
                name == owner.name and (owner.kind is None or kind.lower() == owner.kind.lower())
                for kind, name in owners_of(p)
            )
            assert owner.matches(p) == listed, (asked, p.owner_kind, p.owner_name, p.labels)


def test_without_the_hash_label_no_deployment_is_told() -> None:
    bare = pod(("ReplicaSet", "web-7d9f"))
    assert owners_of(bare) == (("ReplicaSet", "web-7d9f"),)
    assert not Owner.parse("Deployment/web").matches(bare)
    assert owners_of(pod()) == ()
    assert not Owner.parse("web").matches(pod())


def test_other_controllers_match_by_kind_and_name() -> None:
    db = pod(("StatefulSet", "db"))
    assert Owner.parse("StatefulSet/db").matches(db) and Owner.parse(" db ").matches(db)
    assert Owner.parse("statefulset/db") == Owner("statefulset", "db")
    assert not Owner.parse("Job/db").matches(db)


@pytest.mark.parametrize(
    "bad", ["", "/web", "Deployment/", "a/b/c", "Deploy ment/web", "Web_1", "1Kind/web", "x" * 300]
)
def test_a_malformed_owner_is_one_line_naming_what_is_valid(bad: str) -> None:
    with pytest.raises(UserError) as info:
        Owner.parse(bad)
    message = str(info.value)
    assert "\n" not in message and message.startswith("invalid owner ")
    assert "Kind/name (e.g. 'ReplicaSet/web-7d9f', 'Deployment/web') or a name alone" in message


def test_a_filter_matches_every_field_it_gives() -> None:
    web = pod(("ReplicaSet", "web-7d9f"), "7d9f", nodeName="n1")
    assert not PodFilter() and PodFilter(phase="running")
    assert PodFilter(node="n1", phase="RUNNING", owner=Owner(None, "web")).matches(web)
    assert not PodFilter(node="n2").matches(web)
    assert not PodFilter(phase="Pending").matches(web)
    assert not PodFilter(node="n1", owner=Owner("Job", "web")).matches(web)


def test_the_api_phase_is_the_canonical_word_and_never_unknown() -> None:
    assert PodFilter(phase="running").api_phase == "Running"
    assert PodFilter(phase="Unknown").api_phase is None, "a pod without a phase is Unknown in records"
    assert PodFilter(phase="Lost").api_phase is None
