"""--require-confirmation (K8S_MCP_REQUIRE_CONFIRMATION): off by default, and it reaches the tools'
registration, which the confirmation wrapper reads."""

from __future__ import annotations

from k8s_multicluster_mcp.cli import build_parser, settings_from


def _required(argv: list[str], env: dict[str, str]) -> bool:
    settings, _ = settings_from(build_parser().parse_args(argv), env)
    assert settings.registration().require_confirmation is settings.require_confirmation
    return settings.require_confirmation


def test_require_confirmation_from_flag_or_environment_and_off_by_default() -> None:
    assert not _required([], {})
    assert _required(["--require-confirmation"], {})
    assert _required([], {"K8S_MCP_REQUIRE_CONFIRMATION": "true"})
    assert not _required([], {"K8S_MCP_REQUIRE_CONFIRMATION": "0"})
