"""The token map (`--auth-token-map`): parsing with one-line errors, lookup comparing with every
entry, re-reading on change, keeping the last good map when the file turns bad, and the callers
`StaticTokens` makes of the operator's token and the map's."""

from __future__ import annotations

import hmac
import logging
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from k8s_multicluster_mcp import tokenmap
from k8s_multicluster_mcp.common.caller import Caller
from k8s_multicluster_mcp.settings import Settings
from k8s_multicluster_mcp.tokenmap import Entry, StaticTokens, TokenMap, TokenMapError, lookup, parse

ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789ab"
TEXT = f"""
- token: {ALICE}
  user: alice@example.com
  groups: [team-a, dev]
- token: {BOB}
  user: bob
"""


def test_entries_name_a_user_and_optional_groups_and_keep_no_token() -> None:
    alice, bob = parse(TEXT)
    assert (alice.user, alice.groups) == ("alice@example.com", ("team-a", "dev"))
    assert (bob.user, bob.groups) == ("bob", ())
    assert ALICE.encode() not in alice.digest and len(alice.digest) == 32


def test_an_empty_file_admits_nobody() -> None:
    assert parse("") == () == parse("[]")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- token: [unclosed\n", "map.yaml: not valid YAML at line 2; expected a list of {token, user, groups}"),
        ("token: x\n", "map.yaml: expected a YAML list of {token, user, groups} entries"),
        ("- just-a-string\n", "map.yaml entry 1: expected a mapping with token, user and optional groups"),
        (f"- token: {ALICE}\n  user: a\n- token: short\n  user: b\n",
         "map.yaml entry 2: token must be a string of at least 16 characters"),
        ("- token: 1234567890123456789\n  user: a\n", "map.yaml entry 1: token must be a string of at least 16"),
        ("- token: 'has a space in it ok'\n  user: a\n", "map.yaml entry 1: token must not contain spaces"),
        (f"- token: {ALICE}\n", "map.yaml entry 1: user must be a non-empty string (the Kubernetes user it acts as)"),
        (f"- token: {ALICE}\n  user: ''\n", "map.yaml entry 1: user must be a non-empty string"),
        (f"- token: {ALICE}\n  user: a\n  groups: dev\n",
         "map.yaml entry 1: groups must be a list of non-empty strings (or left out)"),
        (f"- token: {ALICE}\n  user: a\n  group: [dev]\n", "map.yaml entry 1: unknown key group; valid: token, user, groups"),
        (f"- token: {ALICE}\n  user: a\n- token: {ALICE}\n  user: b\n",
         "map.yaml entry 2: the same token as an earlier entry; tokens must be unique"),
    ],
    ids=["bad-yaml", "not-a-list", "not-a-mapping", "short-token", "token-not-a-string", "token-with-space",
         "missing-user", "empty-user", "groups-not-a-list", "unknown-key", "duplicate-token"],
)  # fmt: skip
def test_unusable_maps_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(TokenMapError) as info:
        parse(text, "map.yaml")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
    assert ALICE not in str(info.value), "an error never shows a token"


def test_lookup_compares_with_every_entry_whichever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = parse(TEXT)
    compared: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(a)
        return real(a, b)

    monkeypatch.setattr(tokenmap.hmac, "compare_digest", counting)
    for token, user in ((ALICE, "alice@example.com"), (BOB, "bob"), ("x" * 20, None), ("", None)):
        compared.clear()
        found = lookup(entries, token)
        assert (found.user if found else None) == user
        assert compared == [e.digest for e in entries], "no early exit at the matching entry"


def _write(path: Path, text: str, mtime_ns: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))  # a distinct fingerprint even within one clock tick


def test_the_file_is_re_read_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    _write(path, TEXT, 1_000_000_000)
    tokens = TokenMap(path)
    assert tokens.find(ALICE) is not None
    _write(path, f"- token: {BOB}\n  user: bob\n", 2_000_000_000)  # alice revoked
    assert tokens.find(ALICE) is None
    assert tokens.find(BOB) == Entry(tokens.find(BOB).digest, "bob")  # type: ignore[union-attr]


def test_an_invalid_file_keeps_the_last_good_map_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "map.yaml"
    _write(path, TEXT, 1_000_000_000)
    tokens = TokenMap(path)
    with caplog.at_level(logging.WARNING, logger="k8s_multicluster_mcp.tokenmap"):
        _write(path, "- token: [half-saved\n", 2_000_000_000)
        assert tokens.find(ALICE) is not None and tokens.find(BOB) is not None
        assert tokens.find(ALICE) is not None  # warned once per change, not per request
        path.unlink()
        assert tokens.find(BOB) is not None
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        f"--auth-token-map: {path}: not valid YAML at line 2; expected a list of {{token, user, groups}}; "
        "keeping the 2 entries read before",
        f"--auth-token-map: {path}: cannot read it: No such file or directory; keeping the 2 entries read before",
    ]
    _write(path, f"- token: {BOB}\n  user: bob\n", 3_000_000_000)
    assert tokens.find(ALICE) is None, "the next good version takes effect"


def test_an_unusable_file_at_start_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TokenMapError, match="cannot read it: No such file or directory"):
        TokenMap(tmp_path / "missing.yaml")


def test_static_tokens_make_the_operator_and_the_map_s_callers(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(TEXT)
    operator = SecretStr("o" * 20)
    acting = StaticTokens(operator, TokenMap(path), scopes=("k8s",), authorize_as_caller=True)
    naming = StaticTokens(operator, TokenMap(path), authorize_as_caller=False)

    found = acting.verify(ALICE)
    assert found is not None
    assert found.caller == Caller("alice@example.com", groups=("team-a", "dev"), user="alice@example.com")
    assert (found.access.subject, found.access.client_id, found.access.scopes) == (
        "alice@example.com", "alice@example.com", ["k8s"],
    )  # fmt: skip
    assert ALICE not in found.access.model_dump_json(), "the token itself is not kept"
    without = naming.verify(ALICE)
    assert without is not None and without.caller.user is None, "no --authorize-as-caller: server's identity"
    for tokens in (acting, naming):
        op = tokens.verify("o" * 20)
        assert op is not None and op.caller == Caller("operator") and op.caller.user is None
        assert tokens.verify("o" * 19) is None and tokens.verify("") is None
    assert StaticTokens(operator).verify(ALICE) is None


def test_a_map_entry_with_the_operator_s_token_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(TEXT)
    settings = Settings(transport="http", auth_token=SecretStr(BOB), auth_token_map=path)
    with pytest.raises(TokenMapError) as info:
        tokenmap.from_settings(settings)
    assert str(info.value) == (
        f"{path}: an entry has the --auth-token-file token, which is the operator's; give every caller a "
        "token of its own"
    )
    assert tokenmap.from_settings(Settings(transport="http", auth_token_map=path)) is not None
    assert tokenmap.from_settings(Settings()) is None
