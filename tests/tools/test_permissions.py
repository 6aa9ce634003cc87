"""Every tool says what it needs from RBAC, in kubectl's words, and publishes it in `_meta`."""

from __future__ import annotations

import pytest

from k8s_multicluster_mcp.model.permissions import KIND, Need, parse
from k8s_multicluster_mcp.tools import all_tools
from k8s_multicluster_mcp.tools.permissions import NEEDS, PERMISSIONS_META, meta


def test_every_tool_has_an_entry_and_no_entry_names_a_tool_that_is_gone() -> None:
    assert {spec.name for spec in all_tools()} == set(NEEDS)


def test_writes_need_a_writing_verb_and_reads_need_none() -> None:
    writing = {"create", "update", "patch", "delete", "deletecollection"}
    for spec in all_tools():
        verbs = {n.verb for n in NEEDS[spec.name]}
        if spec.writes:
            assert verbs & writing, spec.name
        else:
            assert not verbs & writing, spec.name


@pytest.mark.parametrize(
    ("word", "need", "checkable"),
    [
        ("list pods", Need("list", "pods"), True),
        ("list deployments.apps", Need("list", "deployments", "apps"), True),
        ("create pods/eviction", Need("create", "pods/eviction"), True),
        ("list nodes.metrics.k8s.io", Need("list", "nodes", "metrics.k8s.io"), True),
        ("get /version", Need("get", "/version"), True),
        (f"patch {KIND}/scale", Need("patch", f"{KIND}/scale"), False),
        (f"get {KIND}", Need("get", KIND), False),
    ],
)
def test_a_permission_reads_as_kubectl_writes_it(word: str, need: Need, checkable: bool) -> None:
    (parsed,) = parse(word)
    assert parsed == need and str(parsed) == word and parsed.checkable is checkable


def test_the_meta_lists_the_words() -> None:
    assert meta("k8s_drain_node") == {PERMISSIONS_META: ["patch nodes", "list pods", "create pods/eviction"]}
