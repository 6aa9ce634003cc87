"""Rollout wording (kubectl's), revision history from owned objects, quantities, durations."""

from __future__ import annotations

import pytest

from k8s_multicluster_mcp.common import quantities
from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.model import rollouts
from k8s_multicluster_mcp.query.diagnostics import since_seconds


def deployment(generation: int = 1, **status: object) -> dict[str, object]:
    return {"metadata": {"name": "web", "generation": generation, "uid": "u1", "annotations": {rollouts.REVISION: "2"}},
            "spec": {"replicas": 3}, "status": {"observedGeneration": 1, **status}}  # fmt: skip


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (deployment(2), (False, "Waiting for deployment spec update to be observed...")),
        (
            deployment(updatedReplicas=1, replicas=3),
            (
                False,
                'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
            ),
        ),
        (
            deployment(updatedReplicas=3, replicas=4),
            (
                False,
                'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
            ),
        ),
        (
            deployment(updatedReplicas=3, replicas=3, availableReplicas=2),
            (
                False,
                'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
            ),
        ),
        (
            deployment(updatedReplicas=3, replicas=3, availableReplicas=3),
            (True, 'deployment "web" successfully rolled out'),
        ),
        (
            deployment(conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]),
            (False, 'deployment "web" exceeded its progress deadline'),
        ),
    ],
)
def test_deployment_status(obj: dict[str, object], expected: tuple[bool, str]) -> None:
    assert rollouts.status("Deployment", obj) == expected


def test_daemonset_and_statefulset_status() -> None:
    ds = {
        "metadata": {"name": "agent"},
        "status": {"desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2},
    }
    assert rollouts.status("DaemonSet", ds) == (
        False,
        'Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are available...',
    )
    sts = {"metadata": {"name": "db"}, "spec": {"replicas": 2},
           "status": {"readyReplicas": 2, "updatedReplicas": 2, "currentRevision": "db-1", "updateRevision": "db-2"}}  # fmt: skip
    assert rollouts.status("StatefulSet", sts) == (
        False,
        "waiting for statefulset rolling update to complete 2 pods at revision db-2...",
    )


def test_history_keeps_only_owned_revisions_oldest_first() -> None:
    def rs(name: str, revision: str, owner: str, image: str) -> dict[str, object]:
        return {"kind": "ReplicaSet", "metadata": {"name": name, "annotations": {rollouts.REVISION: revision},
                "ownerReferences": [{"uid": owner}]}, "spec": {"template": {"spec": {"containers": [{"image": image}]}}}}  # fmt: skip

    history = rollouts.history(
        deployment(), [rs("b", "2", "u1", "web:2"), rs("a", "1", "u1", "web:1"), rs("x", "9", "other", "x")]
    )
    assert [(r.revision, r.images, r.current) for r in history] == [
        (1, ("web:1",), False),
        (2, ("web:2",), True),
    ]


def test_rollout_kinds() -> None:
    with pytest.raises(UserError, match="'svc' has no rollouts"):
        rollouts.check_rollout_kind("Service", "svc")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", 0.25),
        ("2", 2.0),
        ("1Gi", 2.0**30),
        ("1.5Ki", 1536.0),
        ("100M", 1e8),
        ("5e3", 5000.0),
        ("12n", 12e-9),
        ("x", None),
    ],
)
def test_quantities(text: str, value: float | None) -> None:
    assert quantities.parse(text) == (pytest.approx(value) if value is not None else None)


def test_durations() -> None:
    assert since_seconds("1h30m") == 5400 and since_seconds("45s") == 45 and since_seconds(None) is None
    with pytest.raises(UserError, match="invalid since '5 minutes'"):
        since_seconds("5 minutes")
