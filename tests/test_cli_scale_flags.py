"""The flags for many contexts: --list-timeout (the watch's lists) and --max-workers (the fanout)."""

from __future__ import annotations

import pytest

from k8s_multicluster_mcp.cli import SettingsError, build_parser, settings_from


def test_list_timeout_from_flag_or_environment_with_its_default() -> None:
    assert settings_from(build_parser().parse_args([]), {})[0].list_timeout == 60
    assert settings_from(build_parser().parse_args(["--list-timeout", "90"]), {})[0].list_timeout == 90
    env = {"K8S_MCP_LIST_TIMEOUT": "30"}
    assert settings_from(build_parser().parse_args([]), env)[0].list_timeout == 30


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--list-timeout", "0"], "--list-timeout / K8S_MCP_LIST_TIMEOUT: Input should be greater than 0"),
        (["--list-timeout", "301"], "--list-timeout / K8S_MCP_LIST_TIMEOUT: Input should be less than or equal to 300"),
        (["--max-workers", "0"], "--max-workers / K8S_MCP_MAX_WORKERS: Input should be greater than or equal to 1"),
    ],
)  # fmt: skip
def test_a_bad_value_is_one_line_naming_the_flag_and_the_valid_range(argv: list[str], said: str) -> None:
    with pytest.raises(SettingsError) as info:
        settings_from(build_parser().parse_args(argv), {})
    assert str(info.value) == said


def test_the_pool_fits_a_hundred_contexts_by_default() -> None:
    assert settings_from(build_parser().parse_args([]), {})[0].max_workers >= 107
