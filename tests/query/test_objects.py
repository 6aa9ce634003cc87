"""ObjectReader's narrowing where a kind may not be read in every namespace (403): to the
namespaces its `namespaces_for` names (by default the context's own, as kubectl does), merged
into one answer per cluster, the provenance note naming them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from k8s_multicluster_mcp.common.errors import ClusterForbiddenError
from k8s_multicluster_mcp.kube.discovery import ResourceType
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.query.objects import ObjectReader, _merge_objects, context_namespace

SECRETS = ResourceType("", "v1", "Secret", "secrets", "secret", namespaced=True)


def ctx(namespace: str | None) -> ContextInfo:
    return ContextInfo("a", "a", Path("kubeconfig"), "a", "https://127.0.0.1:1", "u", namespace, "token")


class Forbidden(Exception):
    status = 403


def read(ns: str | None) -> list[str]:
    """Every namespace is forbidden; one namespace answers with its name."""
    if ns is None:
        raise Forbidden()
    return [ns]


def reader(**kw: Any) -> ObjectReader:
    return ObjectReader(None, None, **kw)  # type: ignore[arg-type]


def concat(parts: list[list[str]]) -> list[str]:
    return [x for part in parts for x in part]


def test_by_default_a_forbidden_list_narrows_to_the_contexts_namespace() -> None:
    assert reader()._in_scope(ctx("team-a"), SECRETS, None, read, concat) == (
        ["team-a"],
        "namespace team-a only: may not read secrets in all namespaces",
    )
    with pytest.raises(Forbidden):
        reader()._in_scope(ctx(None), SECRETS, None, read, concat)
    assert context_namespace(ctx(None), "", "secrets") is None


def test_namespaces_for_names_where_to_read_instead() -> None:
    asked: list[tuple[str, str]] = []

    def namespaces_for(c: ContextInfo, group: str, resource: str) -> list[str] | None:
        asked.append((group, resource))
        return ["team-a", "team-b"]

    found, note = reader(namespaces_for=namespaces_for)._in_scope(ctx(None), SECRETS, None, read, concat)
    assert (found, asked) == (["team-a", "team-b"], [("", "secrets")])
    assert note is not None and note.startswith("namespaces team-a, team-b only: may not read secrets")


def test_none_means_the_hook_does_not_know_and_an_empty_list_lets_the_403_stand() -> None:
    found, _ = reader(namespaces_for=lambda *_: None)._in_scope(ctx("team-a"), SECRETS, None, read, concat)
    assert found == ["team-a"]
    with pytest.raises(Forbidden):
        reader(namespaces_for=lambda *_: [])._in_scope(ctx("team-a"), SECRETS, None, read, concat)


def test_a_namespace_asked_for_or_another_error_is_never_narrowed() -> None:
    def everywhere(c: ContextInfo, group: str, resource: str) -> list[str]:
        return ["team-a"]

    def fails(ns: str | None) -> list[str]:
        raise ClusterForbiddenError("no") if ns == "prod" else RuntimeError("down")

    with pytest.raises(ClusterForbiddenError):
        reader(namespaces_for=everywhere)._in_scope(ctx("team-a"), SECRETS, "prod", fails, concat)
    with pytest.raises(RuntimeError):
        reader(namespaces_for=everywhere)._in_scope(ctx("team-a"), SECRETS, None, fails, concat)


def test_objects_of_several_namespaces_stay_within_the_limit_and_count_the_rest() -> None:
    a, b, c = {"n": 1}, {"n": 2}, {"n": 3}
    assert _merge_objects([([a, b], 0), ([c], 4)], 2) == ([a, b], 5)
    assert _merge_objects([([a], -1), ([b], 0)], 10) == ([a, b], -1)
