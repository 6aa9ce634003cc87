from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone

from jsonschema import Draft202012Validator

from k8s_multicluster_mcp.query.fleet import FailingAnswer, FailingPod
from k8s_multicluster_mcp.query.results import ClusterReport
from k8s_multicluster_mcp.render.fleet import FailingPodsOutput, failing_pods

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
REASONS = ("CrashLoopBackOff", "OOMKilled", "ImagePullBackOff")


def _answer(per_cluster: int, limit: int) -> FailingAnswer:
    """`per_cluster` failing pods in each of two clusters, the first `limit` of them picked."""
    pods = [
        FailingPod(
            context=ctx, namespace="shop", name=f"web-{ctx}-{n:03d}", reason=REASONS[n % 3], phase="Running",
            restarts=n, node="node-1", owner="Deployment/web", age_seconds=60.0,
            message=f"back-off restarting failed container {n}", since=NOW,
        )
        for n in range(per_cluster)
        for ctx in ("a", "b")
    ]  # fmt: skip
    reports = [ClusterReport(context=c, status="ok", source="cache", as_of=NOW) for c in ("a", "b")]
    by_reason: dict[str, int] = {}
    for p in pods:
        by_reason[p.reason] = by_reason.get(p.reason, 0) + 1
    return FailingAnswer(
        items=pods[:limit],
        clusters=reports,
        by_reason=by_reason,
        by_context={"a": per_cluster, "b": per_cluster},
    )


def test_structured_items_carry_what_a_program_needs_not_the_text_columns() -> None:
    _, output = failing_pods(_answer(3, 50), limit=50, now=NOW)
    item = output["items"][0]
    assert item == {
        "context": "a", "namespace": "shop", "name": "web-a-000", "reason": "CrashLoopBackOff",
        "restarts": 0, "owner": "Deployment/web", "node": "node-1",
    }  # fmt: skip


def test_every_failing_pod_is_named_or_counted_in_each_view() -> None:
    """Text alone and structured content alone each name the first `limit` and count the rest by
    reason and by cluster."""
    text, data = failing_pods(_answer(30, 10), limit=10, now=NOW)
    assert data["total"] == 60 and data["shown"] == 10 == len(data["items"])
    assert sum(data["by_reason"].values()) == sum(data["by_context"].values()) == 60
    named = [i["name"] for i in data["items"]]
    assert all(name in text for name in named)
    assert "60 failing pods: CrashLoopBackOff 20, ImagePullBackOff 20, OOMKilled 20" in text
    assert "by cluster: a 30, b 30" in text
    assert text.splitlines()[-1].startswith("… 50 more not shown (a: 25, b: 25)")
    assert "back-off restarting failed container 0" in text  # the message: in the text only
    assert "back-off" not in json.dumps(data)


def test_output_schema_is_valid_json_schema_and_the_answer_follows_it() -> None:
    schema = FailingPodsOutput.model_json_schema()
    Draft202012Validator.check_schema(schema)
    _, output = failing_pods(_answer(3, 50), limit=50, now=NOW)
    Draft202012Validator(schema).validate(output)


def test_the_structured_answer_built_as_json_is_what_its_model_would_say() -> None:
    """Built without a model instance (the SDK validates it against `FailingPodsOutput`): the same
    JSON, key for key and in the same order, as the model's own dump, unknowns and failures too."""
    answer = _answer(3, 4)
    odd = replace(answer.items[0], owner=None, node=None)
    reports = [
        *answer.clusters,
        ClusterReport(context="c", status="unreachable", error="connection refused"),
        ClusterReport(
            context="d", status="ok", source="live", as_of=NOW, note="1 of 2 namespaces", also=("d-viewer",)
        ),
    ]
    answer = FailingAnswer([odd, *answer.items[1:]], reports, ["a note"], answer.by_reason, answer.by_context)
    _, built = failing_pods(answer, limit=3, now=NOW)
    model = FailingPodsOutput.model_validate(built).model_dump(mode="json", exclude_none=False)
    assert json.dumps(built) == json.dumps(model)
