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
from k8s_multicluster_mcp.settings import DEFAULT_TOOLSETS, TOOLSETS


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
        (["--contexts", " , "], {}, "--contexts was given but names nothing"),
        (
            ["--toolsets", "core,secrets"],
            {},
            "--toolsets / K8S_MCP_TOOLSETS: unknown toolset 'secrets'; valid: core, fleet, workloads, "
            "config, rbac, storage, network, diagnostics, write, scaling, nodes, exec, all",
        ),
        (
            [],
            {"K8S_MCP_SENSITIVE_ENV_PATTERN": "(pass"},
            "K8S_MCP_SENSITIVE_ENV_PATTERN: not a regular expression",
        ),
        (["--sensitive-env-pattern", ".*"], {}, "the pattern matches every name"),
    ],
)
def test_bad_values_are_clear_one_line_errors(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        settings(argv, env)
    assert message in str(info.value)


def test_toolsets_and_secret_flags_from_flags_or_environment() -> None:
    s, _ = settings([], {"K8S_MCP_TOOLSETS": "Fleet, core", "K8S_MCP_ALLOW_SECRET_VALUES": "yes"})
    assert s.toolsets == ("fleet", "core") and s.allow_secret_values
    s, _ = settings(["--toolsets", "all", "--sensitive-env-pattern", "licen[cs]e"], {})
    assert (
        s.toolsets == tuple(TOOLSETS)
        and s.sensitive_env_pattern == "licen[cs]e"
        and not s.allow_secret_values
    )
    assert settings([], {"K8S_MCP_TOOLSETS": "all"})[0].toolsets == tuple(TOOLSETS)
    assert settings([], {})[0].toolsets == DEFAULT_TOOLSETS == ("core", "fleet", "workloads", "diagnostics")


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


def test_environment_values_are_case_insensitive_like_the_flags() -> None:
    s, _ = settings([], {"K8S_MCP_LOG_LEVEL": "debug", "K8S_MCP_TRANSPORT": "HTTP"})
    assert (s.log_level, s.transport) == ("DEBUG", "http")


@pytest.mark.parametrize("value", ["nan", "inf", "NaN"])
def test_request_timeout_must_be_a_finite_number(value: str) -> None:
    with pytest.raises(
        SettingsError, match="--request-timeout / K8S_MCP_REQUEST_TIMEOUT: Input should be a finite number"
    ):
        settings(["--request-timeout", value])


def test_auth_token_from_file_or_environment(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token-of-enough-length\n")
    s, _ = settings(["--auth-token-file", str(token)])
    assert s.auth_token is not None and s.auth_token.get_secret_value() == "s3cret-token-of-enough-length"
    assert "s3cret" not in repr(s), "the token never shows up in a repr or a log line"
    s, _ = settings([], {"K8S_MCP_AUTH_TOKEN": "another-long-enough-token"})
    assert s.auth_token is not None and s.auth_token.get_secret_value() == "another-long-enough-token"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read it: No such file or directory"),
        ("", "the file must hold one token on one line"),
        ("short", "the token must have at least 16 characters"),
    ],
)
def test_bad_token_files_are_one_line_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SettingsError, match=message):
        settings(["--auth-token-file", str(path)])


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::", "10.1.2.3", "mcp.example.com"])
def test_http_beyond_loopback_without_a_token_refuses_to_start(
    host: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["--transport", "http", "--host", host, "--kubeconfig-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"k8s-multicluster-mcp: error: --host {host or repr('')} listens beyond this machine"
    )
    assert "--auth-token-file" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("host", "exposed"),
    [
        ("127.0.0.1", False),
        ("localhost", False),
        ("::1", False),
        ("127.0.0.2", False),
        ("0.0.0.0", True),
        ("", True),
        ("::", True),
    ],
)
def test_what_counts_as_exposed(host: str, exposed: bool) -> None:
    s, _ = settings(["--host", host])
    assert s.exposed is exposed


def test_stateless_and_shutdown_grace_from_flags_or_environment() -> None:
    assert (settings([])[0].stateless, settings([])[0].shutdown_grace) == (False, 1.0)
    given = settings(["--stateless", "--shutdown-grace", "20"])[0]
    assert (given.stateless, given.shutdown_grace) == (True, 20.0)
    assert settings([], {"K8S_MCP_STATELESS": "true", "K8S_MCP_SHUTDOWN_GRACE": "5"})[0].shutdown_grace == 5.0


def test_health_port_from_flag_or_environment_and_off_by_default() -> None:
    assert settings([])[0].health_port is None
    assert settings(["--health-port", "9090"])[0].health_port == 9090
    assert settings([], {"K8S_MCP_HEALTH_PORT": "9091"})[0].health_port == 9091


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--health-port", "0"], "--health-port / K8S_MCP_HEALTH_PORT: Input should be greater than or equal to 1"),
        (["--health-port", "70000"], "--health-port / K8S_MCP_HEALTH_PORT: Input should be less than or equal to 65535"),
        (["--health-port", "x"], "--health-port / K8S_MCP_HEALTH_PORT: Input should be a valid integer"),
        (["--transport", "http", "--health-port", "8000"],
         "--health-port / K8S_MCP_HEALTH_PORT: 8000 is also --port, where the MCP server listens; give another port"),
        (["--shutdown-grace", "-1"], "--shutdown-grace / K8S_MCP_SHUTDOWN_GRACE: Input should be greater than or equal to 0"),
        (["--shutdown-grace", "soon"], "--shutdown-grace / K8S_MCP_SHUTDOWN_GRACE: Input should be a valid number"),
    ],
)  # fmt: skip
def test_bad_health_ports_are_one_line_errors(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        settings(argv)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_a_health_port_in_use_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["--kubeconfig-dir", str(tmp_path), "--health-port", str(port)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"k8s-multicluster-mcp: error: --health-port {port}: cannot listen on 127.0.0.1: ")
    assert err.rstrip().endswith("give a free port (1-65535) or leave the flag out")
    assert err.count("\n") == 1


def test_oidc_settings_and_the_resource_url() -> None:
    s, _ = settings(
        [
            "--transport",
            "http",
            "--oidc-issuer",
            "https://id.example.com",
            "--oidc-scopes",
            "k8s.read, k8s.write",
        ],
        {"K8S_MCP_OIDC_AUDIENCE": "k8s-mcp"},
    )
    assert (s.oidc_issuer, s.oidc_audience, s.oidc_scopes) == (
        "https://id.example.com",
        "k8s-mcp",
        ("k8s.read", "k8s.write"),
    )
    assert s.resource_url == "http://127.0.0.1:8000/mcp"
    s, _ = settings(["--transport", "http", "--public-url", "https://mcp.example.com/mcp"])
    assert s.resource_url == "https://mcp.example.com/mcp"
    s, _ = settings(["--transport", "http", "--host", "::1", "--port", "9000"])
    assert s.resource_url == "http://[::1]:9000/mcp"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--oidc-issuer", "http://id.example.com", "--oidc-audience", "a"],
         "--oidc-issuer / K8S_MCP_OIDC_ISSUER: 'http://id.example.com' must be an https:// URL "
         r"\(http:// only on loopback"),
        (["--oidc-issuer", "https://id.example.com"],
         "--oidc-issuer / K8S_MCP_OIDC_ISSUER: needs --oidc-audience / K8S_MCP_OIDC_AUDIENCE"),
        (["--oidc-issuer", "id.example.com", "--oidc-audience", "a"], "must be an https:// URL"),
        (["--oidc-issuer", "https://id.example.com", "--oidc-audience", "a", "--host", "0.0.0.0"],
         "with --host on every interface, give --public-url"),
        (["--public-url", "mcp.example.com"], "--public-url / K8S_MCP_PUBLIC_URL: 'mcp.example.com' is not a URL"),
    ],
)  # fmt: skip
def test_bad_oidc_settings_are_one_line_errors(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as info:
        settings(["--transport", "http", *argv])
    assert "\n" not in str(info.value)


def test_oidc_needs_http_and_loopback_http_issuers_are_fine() -> None:
    with pytest.raises(SettingsError, match="OAuth applies to --transport http only"):
        settings(["--oidc-issuer", "https://id.example.com", "--oidc-audience", "a"])
    s, _ = settings(
        ["--transport", "http", "--oidc-issuer", "http://127.0.0.1:5556/dex", "--oidc-audience", "a"]
    )
    assert s.oidc_issuer == "http://127.0.0.1:5556/dex"
