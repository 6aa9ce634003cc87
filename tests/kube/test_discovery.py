"""Which kind a word names, from discovery documents (aggregated and legacy), kubectl's way."""

from __future__ import annotations

import pytest

from k8s_multicluster_mcp.common.errors import UnknownKindError
from k8s_multicluster_mcp.kube.discovery import (
    Discovery,
    ResourceType,
    check_word,
    closest,
    parse_aggregated,
    parse_resource_list,
    resolve,
    split_word,
    unknown_kind,
)


def _resource(
    name: str, kind: str, scope: str = "Namespaced", short: list[str] | None = None
) -> dict[str, object]:
    return {"resource": name, "responseKind": {"kind": kind}, "scope": scope, "singularResource": kind.lower(),
            "shortNames": short or [], "verbs": ["get", "list", "watch"]}  # fmt: skip


AGGREGATED = {
    "kind": "APIGroupDiscoveryList",
    "items": [
        {"metadata": {"name": ""}, "versions": [{"version": "v1", "resources": [
            _resource("pods", "Pod", short=["po"]), _resource("events", "Event", short=["ev"]),
            _resource("nodes", "Node", "Cluster", ["no"]), {"resource": "pods/log"}]}]},
        {"metadata": {"name": "apps"}, "versions": [{"version": "v1", "resources": [
            _resource("deployments", "Deployment", short=["deploy"])]}]},
        {"metadata": {"name": "events.k8s.io"}, "versions": [{"version": "v1", "resources": [
            _resource("events", "Event", short=["ev"])]}]},
        {"metadata": {"name": "example.com"}, "versions": [
            {"version": "v2", "resources": [_resource("crontabs", "CronTab", short=["ct"])]},
            {"version": "v1", "resources": [_resource("crontabs", "CronTab", short=["ct"])]}]},
    ],
}  # fmt: skip
TYPES = parse_aggregated(AGGREGATED)


def test_subresources_are_not_kinds() -> None:
    assert [t.qualified for t in TYPES] == [
        "pods", "events", "nodes", "deployments.apps", "events.events.k8s.io", "crontabs.example.com",
        "crontabs.example.com",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("word", "group", "version", "expected"),
    [
        ("pods", None, None, ("", "v1", "Pod")),
        ("Pod", None, None, ("", "v1", "Pod")),
        ("PO", None, None, ("", "v1", "Pod")),
        ("deploy", None, None, ("apps", "v1", "Deployment")),
        ("deployments.apps", None, None, ("apps", "v1", "Deployment")),
        ("deployments.v1.apps", None, None, ("apps", "v1", "Deployment")),
        ("events", None, None, ("", "v1", "Event")),
        ("events.events.k8s.io", None, None, ("events.k8s.io", "v1", "Event")),
        ("events", "events.k8s.io", None, ("events.k8s.io", "v1", "Event")),
        ("pods", "core", "v1", ("", "v1", "Pod")),
        ("ct", None, None, ("example.com", "v2", "CronTab")),
        ("crontab", "example.com", "v1", ("example.com", "v1", "CronTab")),
    ],
)
def test_resolve(word: str, group: str | None, version: str | None, expected: tuple[str, str, str]) -> None:
    found = resolve(TYPES, word, group, version)
    assert found is not None
    assert (found.group, found.version, found.kind) == expected


def test_nothing_matches_a_wrong_group_or_version() -> None:
    assert resolve(TYPES, "pods", "metrics.k8s.io") is None
    assert resolve(TYPES, "deployments", None, "v1beta1") is None


def test_unknown_kind_names_the_closest() -> None:
    assert closest(TYPES, "deploymnet") == ["deployments.apps"]
    assert unknown_kind(TYPES, "crontbas", None, None) == (
        "'crontbas' is not a served kind; closest served kinds: crontabs.example.com"
    )
    assert unknown_kind(TYPES, "zzz", "x", None).endswith(
        "group 'x' is not a served kind; k8s_apis lists the served kinds"
    )


def test_split_and_check_words() -> None:
    assert split_word("Deployments.v1.Apps") == ("deployments", "v1", "apps")
    assert split_word("crontabs.example.com") == ("crontabs", None, "example.com")
    with pytest.raises(UnknownKindError, match="invalid kind 'pods/log'"):
        check_word("pods/log")


def test_legacy_resource_lists() -> None:
    listed = parse_resource_list("apps", "v1", {"resources": [
        {"name": "deployments", "kind": "Deployment", "namespaced": True, "shortNames": ["deploy"], "verbs": ["list"]},
        {"name": "deployments/scale", "kind": "Scale", "namespaced": True}]})  # fmt: skip
    assert listed == [
        ResourceType("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), ("list",))
    ]
    assert listed[0].path("shop", "web") == "/apis/apps/v1/namespaces/shop/deployments/web"
    assert TYPES[2].path("shop") == "/api/v1/nodes"


def test_discovery_is_refreshed_on_a_miss_at_most_every_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    served = [TYPES[:1]]

    def fetch(client: object, timeout: float) -> list[ResourceType]:
        calls.append(1)
        return served[0]

    clock = [1000.0]
    monkeypatch.setattr("k8s_multicluster_mcp.kube.discovery.time.monotonic", lambda: clock[0])
    discovery = Discovery(fetch)
    assert discovery.resolve("c", None, 1, "pods").kind == "Pod"
    with pytest.raises(UnknownKindError):
        discovery.resolve("c", None, 1, "ct")
    assert len(calls) == 1, "the first fetch is too recent to fetch again"
    served[0] = TYPES
    clock[0] += 1.5
    assert discovery.resolve("c", None, 1, "ct").kind == "CronTab"
    assert len(calls) == 2
    assert discovery.resolve("c", None, 1, "pods").kind == "Pod"
    assert len(calls) == 2
