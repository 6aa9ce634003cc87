"""The per-caller identity flags (issue 20): from flags or the environment, and the one-line
errors when --authorize-as-caller cannot tell callers apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8s_multicluster_mcp.cli import SettingsError, build_parser, main, settings_from
from k8s_multicluster_mcp.settings import Settings

OIDC = ["--oidc-issuer", "https://id.example.com", "--oidc-audience", "mcp"]
TOKEN = "t" * 16


def settings(argv: list[str], env: dict[str, str] | None = None) -> Settings:
    return settings_from(build_parser().parse_args(argv), env or {})[0]


def test_flags_are_off_or_default_without_them() -> None:
    s = settings([])
    assert (s.authorize_as_caller, s.user_claim, s.groups_claim, s.user_prefix, s.groups_prefix) == (
        False, "sub", "groups", "", "",
    )  # fmt: skip
    assert (s.auth_token_map, s.authorization_ttl) == (None, 10.0)


def test_flags_and_their_environment_variables(tmp_path: Path) -> None:
    flags = settings(
        ["--transport", "http", *OIDC, "--authorize-as-caller", "--user-claim", "email",
         "--groups-claim", "roles", "--user-prefix", "oidc:", "--groups-prefix", "oidc:",
         "--auth-token-map", str(tmp_path / "map.yaml"), "--authorization-ttl", "30"]
    )  # fmt: skip
    env = settings(
        ["--transport", "http", *OIDC],
        {"K8S_MCP_AUTHORIZE_AS_CALLER": "yes", "K8S_MCP_USER_CLAIM": "email",
         "K8S_MCP_GROUPS_CLAIM": "roles", "K8S_MCP_USER_PREFIX": "oidc:", "K8S_MCP_GROUPS_PREFIX": "oidc:",
         "K8S_MCP_AUTH_TOKEN_MAP": str(tmp_path / "map.yaml"), "K8S_MCP_AUTHORIZATION_TTL": "30"},
    )  # fmt: skip
    for s in (flags, env):
        assert s.authorize_as_caller
        assert (s.user_claim, s.groups_claim, s.user_prefix, s.groups_prefix) == (
            "email",
            "roles",
            "oidc:",
            "oidc:",
        )
        assert (s.auth_token_map, s.authorization_ttl) == (tmp_path / "map.yaml", 30.0)


def test_a_token_map_alone_is_a_source_of_callers(tmp_path: Path) -> None:
    s = settings(["--transport", "http", "--authorize-as-caller", "--auth-token-map", str(tmp_path / "m")])
    assert s.authorize_as_caller and s.oidc_issuer is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--authorize-as-caller"],
         "--authorize-as-caller applies to --transport http only (over stdio the caller is the server's "
         "user); add --transport http or drop --authorize-as-caller"),
        (["--transport", "http", "--authorize-as-caller"],
         "--authorize-as-caller needs to know who calls: give --oidc-issuer URL (identity from the "
         "token's claims) or --auth-token-map FILE (static tokens, each naming its user)"),
        (["--auth-token-map", "m.yaml"],
         "--auth-token-map / K8S_MCP_AUTH_TOKEN_MAP: bearer tokens apply to --transport http only; add "
         "--transport http or drop the map"),
        (["--transport", "http", "--user-claim", ""],
         "--user-claim / K8S_MCP_USER_CLAIM: String should have at least 1 character"),
        (["--transport", "http", "--groups-claim", ""],
         "--groups-claim / K8S_MCP_GROUPS_CLAIM: String should have at least 1 character"),
        (["--authorization-ttl", "-1"],
         "--authorization-ttl / K8S_MCP_AUTHORIZATION_TTL: Input should be greater than or equal to 0"),
        (["--authorization-ttl", "soon"],
         "--authorization-ttl / K8S_MCP_AUTHORIZATION_TTL: Input should be a valid number"),
    ],
)  # fmt: skip
def test_unusable_combinations_are_one_line_errors(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        settings(argv)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_an_unusable_token_map_stops_the_server_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(f"- token: {TOKEN}\n  user: alice\n- token: {TOKEN}\n  user: bob\n")
    code = main(["--transport", "http", "--auth-token-map", str(path), "--kubeconfig-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        f"k8s-multicluster-mcp: error: --auth-token-map / K8S_MCP_AUTH_TOKEN_MAP: {path} entry 2: the "
        "same token as an earlier entry; tokens must be unique\n"
    )


def test_a_token_map_is_a_token_for_binding_beyond_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The exposed-bind check accepts a token map (here it is missing, so the map's own error is
    what stops the server, not the check)."""
    missing = tmp_path / "none.yaml"
    code = main(["--transport", "http", "--host", "0.0.0.0", "--auth-token-map", str(missing)])
    err = capsys.readouterr().err
    assert code == 2
    assert "listens beyond this machine" not in err
    assert f"{missing}: cannot read it: No such file or directory" in err
