"""When a destructive call is asked about, refused or run as before; which calls are destructive;
whether a client can be asked. The question and answers over a real client and cluster:
integration/test_e2e_confirm.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from mcp_types import (
    ClientCapabilities,
    ElicitationCapability,
    FormElicitationCapability,
    UrlElicitationCapability,
)

from k8s_multicluster_mcp.tools import all_tools
from k8s_multicluster_mcp.tools.confirm import can_ask, decide, is_destructive


@pytest.mark.parametrize(
    ("destructive", "dry_run", "can", "required", "expected"),
    [
        (True, False, True, False, "ask"),
        (True, False, True, True, "ask"),
        (True, False, False, False, "run"),
        (True, False, False, True, "refuse"),
        (True, True, False, True, "run"),
        (True, True, True, False, "run"),
        (False, False, False, True, "run"),
        (False, False, True, False, "run"),
    ],
)
def test_decide(destructive: bool, dry_run: bool, can: bool, required: bool, expected: str) -> None:
    assert decide(destructive=destructive, dry_run=dry_run, can_ask=can, required=required) == expected


def test_the_confirmed_calls_are_exactly_what_disable_destructive_forbids() -> None:
    specs = {spec.name: spec for spec in all_tools()}
    always = {name for name, spec in specs.items() if is_destructive(spec, {})}
    assert always == {
        "k8s_delete_ns", "k8s_delete_resource", "k8s_rollout_undo", "k8s_drain_node", "k8s_pod_exec"
    }  # fmt: skip
    scale = specs["k8s_scale_resource"]
    assert is_destructive(scale, {"replicas": 0}) and not is_destructive(scale, {"replicas": 2})


def _ctx(capabilities: ClientCapabilities | None, version: str, back_channel: bool) -> Any:
    return SimpleNamespace(
        client_capabilities=capabilities,
        protocol_version=version,
        session=SimpleNamespace(can_send_request=back_channel),
    )


FORM = ClientCapabilities(elicitation=ElicitationCapability(form=FormElicitationCapability()))
BARE = ClientCapabilities(elicitation=ElicitationCapability())
URL_ONLY = ClientCapabilities(elicitation=ElicitationCapability(url=UrlElicitationCapability()))


@pytest.mark.parametrize(
    ("capabilities", "version", "back_channel", "expected"),
    [
        (FORM, "2025-11-25", True, True),
        (BARE, "2025-06-18", True, True),
        (FORM, "2025-11-25", False, False),  # stateless HTTP: no way to ask mid-call
        (FORM, "2026-07-28", False, True),  # the question rides an InputRequiredResult
        (URL_ONLY, "2026-07-28", False, False),
        (ClientCapabilities(), "2025-11-25", True, False),
        (None, "2026-07-28", False, False),
    ],
)
def test_can_ask(
    capabilities: ClientCapabilities | None, version: str, back_channel: bool, expected: bool
) -> None:
    assert can_ask(_ctx(capabilities, version, back_channel)) is expected
