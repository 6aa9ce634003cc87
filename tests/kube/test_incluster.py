"""The in-cluster context: from a pod's service account (a fake mount here), shown like any
context, and its rotating token never used past its file's change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from k8s_multicluster_mcp.kube.contexts import ContextRegistry

ENV = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
CA = """-----BEGIN CERTIFICATE-----
MIIBdDCCARmgAwIBAgIUD0ac5070CIf39eFmapiE5CFSY7QwCgYIKoZIzj0EAwIwJzElMCMGA1UEAwwcazhzLW11bHRpY2x1c3Rl
-----END CERTIFICATE-----
"""


@pytest.fixture
def mount(tmp_path: Path) -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text("token-one")
    (directory / "ca.crt").write_text(CA)
    (directory / "namespace").write_text("k8s-mcp\n")
    return directory


def registry(
    mount: Path, tmp_path: Path, env: dict[str, str] = ENV, name: str | None = "in-cluster"
) -> ContextRegistry:
    return ContextRegistry(directory=tmp_path / "kube", in_cluster=name, service_account_dir=mount, environ=env,
                           reload_interval=0)  # fmt: skip


def test_in_a_pod_the_service_account_is_a_context(mount: Path, tmp_path: Path) -> None:
    ctx = registry(mount, tmp_path).inventory().contexts["in-cluster"]
    assert (ctx.server, ctx.namespace, ctx.auth) == ("https://10.96.0.1:443", "k8s-mcp", "token")
    assert ctx.file == mount / "token"
    assert list(registry(mount, tmp_path, name="home").inventory().contexts) == ["home"]


def test_outside_a_pod_or_switched_off_there_is_none(mount: Path, tmp_path: Path) -> None:
    assert registry(mount, tmp_path, env={}).inventory().contexts == {}
    assert registry(mount, tmp_path, name=None).inventory().contexts == {}


def test_a_mount_without_its_ca_is_a_problem_not_a_context(mount: Path, tmp_path: Path) -> None:
    (mount / "ca.crt").unlink()
    inventory = registry(mount, tmp_path).inventory()
    assert inventory.contexts == {}
    assert [p.reason for p in inventory.problems] == [
        "in-cluster service account has no readable token or ca.crt"
    ]


def test_a_rotated_token_is_used_from_the_next_call_on(mount: Path, tmp_path: Path) -> None:
    reg = registry(mount, tmp_path)
    ctx = reg.inventory().contexts["in-cluster"]
    first = reg.api_client(ctx)
    assert first.configuration.api_key["BearerToken"] == "Bearer token-one"
    assert reg.api_client(ctx) is first, "the same token: the same pooled client"
    # The kubelet swaps the file; its mtime and size change.
    (mount / "token").write_text("token-two-rotated")
    stat = (mount / "token").stat()
    os.utime(mount / "token", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = reg.api_client(ctx)
    assert second is not first
    assert second.configuration.api_key["BearerToken"] == "Bearer token-two-rotated"
    reg.close()
