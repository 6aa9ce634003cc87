"""`k8s_fleet_find_pods`'s own argument errors: one line naming what was wrong and what is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import WriteKubeconfig
from tests.tools.test_base import call


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"owner": "Deployment/web/x"},
            "invalid owner 'Deployment/web/x': give Kind/name (e.g. 'ReplicaSet/web-7d9f', "
            "'Deployment/web') or a name alone ('web')",
        ),
        ({"owner": "/web"}, "invalid owner '/web': give Kind/name"),
        ({"phase": "Lost"}, "unknown phase 'Lost'; valid: Pending, Running, Succeeded, Failed, Unknown"),
        ({"node": "n1,spec.x=y"}, "invalid node name 'n1,spec.x=y'"),
    ],
)
def test_a_malformed_filter_is_one_line_before_any_request(
    tmp_path: Path, write_kubeconfig: WriteKubeconfig, arguments: dict[str, str], expected: str
) -> None:
    write_kubeconfig("c.yaml", {"prod": "https://127.0.0.1:9"})
    message = call(tmp_path, "k8s_fleet_find_pods", arguments)
    assert "\n" not in message
    assert message.startswith(f"Error executing tool k8s_fleet_find_pods: {expected}"), message
