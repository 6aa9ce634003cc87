from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from k8s_multicluster_mcp import __version__
from k8s_multicluster_mcp.cli import (
    OPTIONS,
    SettingsError,
    build_check_parser,
    build_parser,
    main,
    settings_from,
)


def settings(argv: list[str], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return settings_from(build_parser().parse_args(argv), env or {})


def test_help_documents_every_flag_and_its_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for opt in OPTIONS:
        assert opt.flags[0] in text
        if opt.env:
            assert opt.env in text
    for word in ("--version", "KUBECONFIG", "check"):
        assert word in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"k8s-multicluster-mcp {__version__}"


def test_defaults() -> None:
    s, explicit = settings([])
    assert (s.watch, s.transport, s.host, s.port, s.read_only) == (False, "stdio", "127.0.0.1", 8000, False)
    assert s.kubeconfig_dir == Path("~/.kube").expanduser()
    assert not explicit


def test_environment_and_flags_flag_wins(tmp_path: Path) -> None:
    env = {
        "KUBECONFIG_DIR": str(tmp_path),
        "K8S_MCP_WATCH": "true",
        "K8S_MCP_CONTEXTS": "prod-*, dev",
        "K8S_MCP_PORT": "9000",
        "KUBECONFIG": os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]),
    }
    s, explicit = settings(["--port", "9100", "--kubeconfig", "~/x.yaml", "--kubeconfig", "y.yaml"], env)
    assert explicit and s.kubeconfig_dir == tmp_path
    assert s.watch and s.contexts == ("prod-*", "dev") and s.port == 9100
    assert s.kubeconfig == (Path("~/x.yaml").expanduser(), Path("y.yaml"))
    assert s.kubeconfig_env == (tmp_path / "a", tmp_path / "b")


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--port", "70000"], {}, "--port / K8S_MCP_PORT: Input should be less than or equal to 65535"),
        (["--port", "http"], {}, "--port / K8S_MCP_PORT: Input should be a valid integer"),
        (
            ["--request-timeout", "0"],
            {},
            "--request-timeout / K8S_MCP_REQUEST_TIMEOUT: Input should be greater than 0",
        ),
        ([], {"K8S_MCP_READ_ONLY": "maybe"}, "K8S_MCP_READ_ONLY='maybe': expected one of 1/0"),
        (["--contexts", " , "], {}, "--contexts names no context pattern"),
    ],
)
def test_bad_values_are_clear_one_line_errors(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        settings(argv, env)
    assert message in str(info.value)


def test_bad_value_exits_2_with_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K8S_MCP_PORT", "-1")
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("k8s-multicluster-mcp: error: --port / K8S_MCP_PORT:")


def test_unknown_choice_is_rejected_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--transport", "carrier-pigeon"])
    assert info.value.code == 2
    assert "invalid choice: 'carrier-pigeon'" in capsys.readouterr().err


def test_check_subcommand_takes_only_its_flags() -> None:
    parser = build_check_parser()
    args = parser.parse_args(["--kubeconfig-dir", "/d", "--contexts", "a"])
    assert isinstance(args, argparse.Namespace)
    with pytest.raises(SystemExit):
        parser.parse_args(["--watch"])
