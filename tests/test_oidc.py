"""JWT validation of `--oidc-issuer` against a local issuer (keys from `cryptography`, JWKS on
loopback): good token, wrong audience, expired, unknown key id then rotation, bad signature,
`alg: none`, the static token beside it, and the claims that name a caller's Kubernetes identity
with --authorize-as-caller."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import anyio
import jwt
import pytest
from jwt.utils import base64url_encode
from mcp.server.auth.provider import AccessToken
from pydantic import SecretStr

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.oidc import LEEWAY, OPERATOR, Authenticator, ClaimMapping, OidcVerifier, _caller_of
from k8s_multicluster_mcp.tokenmap import StaticTokens
from tests.oidc_issuer import Issuer, new_key

AUD = "http://127.0.0.1:8000/mcp"


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    made = Issuer()
    yield made
    made.close()


def verifier(issuer: Issuer, cooldown: float = 0.0) -> OidcVerifier:
    return OidcVerifier(issuer.url, AUD, cooldown=cooldown)


def test_a_good_token_gives_its_identity_scopes_and_expiry(issuer: Issuer) -> None:
    token = issuer.token(AUD, scope="k8s.read k8s.write", email="a@example.com", groups=["sre"], azp="claude")
    found = verifier(issuer).verify(token)
    assert found is not None
    assert (found.subject, found.client_id, found.scopes) == ("alice", "claude", ["k8s.read", "k8s.write"])
    assert found.expires_at is not None and found.expires_at > time.time()
    assert found.claims is not None and found.claims["email"] == "a@example.com"


def test_scp_claim_as_a_list_is_read_too(issuer: Issuer) -> None:
    found = verifier(issuer).verify(issuer.token(AUD, scp=["k8s.read"]))
    assert found is not None and found.scopes == ["k8s.read"]


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "http://elsewhere/mcp"},
        {"iss": "http://127.0.0.1:1/other"},
        {"exp": -int(LEEWAY) - 60},
        {"nbf": int(LEEWAY) + 60},
    ],
    ids=["wrong-audience", "wrong-issuer", "expired", "not-yet-valid"],
)
def test_tokens_for_someone_else_or_out_of_time_are_refused(
    issuer: Issuer, claims: dict[str, object]
) -> None:
    # Times are offsets from when the test runs (not from collection, minutes earlier in a suite).
    now = int(time.time())
    claims = {k: now + v if k in ("exp", "nbf") and isinstance(v, int) else v for k, v in claims.items()}
    assert verifier(issuer).verify(issuer.token(AUD, **claims)) is None


def test_small_clock_skew_is_forgiven(issuer: Issuer) -> None:
    assert verifier(issuer).verify(issuer.token(AUD, exp=int(time.time()) - 5)) is not None


def test_a_token_without_exp_is_refused(issuer: Issuer) -> None:
    payload = {"iss": issuer.url, "aud": AUD, "sub": "alice"}
    token = jwt.encode(payload, issuer.keys["key-1"], algorithm="RS256", headers={"kid": "key-1"})
    assert verifier(issuer).verify(token) is None


def test_bad_signature_is_refused(issuer: Issuer) -> None:
    assert verifier(issuer).verify(issuer.token(AUD, key=new_key())) is None


def test_alg_none_and_hmac_with_the_public_key_are_refused(issuer: Issuer) -> None:
    payload = {"iss": issuer.url, "aud": AUD, "sub": "mallory", "exp": int(time.time()) + 300}
    unsigned = jwt.encode(payload, None, algorithm="none", headers={"kid": "key-1"})
    # PyJWT refuses to sign with a public key as an HMAC secret, so the attack is built by hand.
    secret = jwt.algorithms.RSAAlgorithm.to_jwk(issuer.keys["key-1"].public_key()).encode()
    header = base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "key-1"}).encode())
    body = base64url_encode(json.dumps(payload).encode())
    mac = hmac.new(secret, header + b"." + body, hashlib.sha256).digest()
    hmac_signed = (header + b"." + body + b"." + base64url_encode(mac)).decode()
    check = verifier(issuer)
    assert check.verify(unsigned) is None
    assert check.verify(hmac_signed) is None
    assert check.verify("not.a.jwt") is None


def test_unknown_key_id_refetches_the_keys_once_then_accepts_the_rotated_key(issuer: Issuer) -> None:
    check = verifier(issuer, cooldown=0.0)
    assert check.verify(issuer.token(AUD)) is not None
    before = issuer.jwks_fetches
    assert check.verify(issuer.token(AUD)) is not None
    assert issuer.jwks_fetches == before, "the key set is cached"
    issuer.rotate("key-2")
    try:
        assert check.verify(issuer.token(AUD, kid="key-2")) is not None
        assert issuer.jwks_fetches == before + 1
    finally:
        del issuer.keys["key-2"]


def test_a_flood_of_unknown_key_ids_fetches_the_keys_at_most_once_per_cooldown(issuer: Issuer) -> None:
    check = verifier(issuer, cooldown=60.0)
    assert check.verify(issuer.token(AUD)) is not None
    before = issuer.jwks_fetches
    stranger = new_key()
    for n in range(20):
        assert check.verify(issuer.token(AUD, kid=f"made-up-{n}", key=stranger)) is None
    assert issuer.jwks_fetches <= before + 1


def test_an_unreachable_issuer_refuses_and_is_asked_again_after_the_cooldown(issuer: Issuer) -> None:
    check = OidcVerifier(issuer.url, AUD, cooldown=60.0)
    check._failed_at = time.monotonic()  # as if discovery had just failed
    assert check.verify(issuer.token(AUD)) is None
    check._failed_at -= 61
    assert check.verify(issuer.token(AUD)) is not None
    assert OidcVerifier("http://127.0.0.1:1", AUD).verify("a.b.c") is None


def test_static_token_is_the_operator_and_jwts_set_the_caller(issuer: Issuer) -> None:
    static = "s" * 32
    auth = Authenticator(verifier(issuer), StaticTokens(SecretStr(static), scopes=("k8s",)))

    async def run() -> None:
        operator = await auth.verify_token(static)
        assert operator is not None and (operator.subject, operator.scopes) == (OPERATOR, ["k8s"])
        assert caller.current.get() == caller.Caller(OPERATOR)
        found = await auth.verify_token(issuer.token(AUD, email="a@example.com", groups=["sre", "dev"]))
        assert found is not None
        assert caller.by() == " by sub=alice email=a@example.com groups=sre,dev"
        assert await auth.verify_token("s" * 31) is None

    anyio.run(run)


def _token(**claims: object) -> AccessToken:
    return AccessToken(token="t", client_id="claude", scopes=[], subject="alice", claims=claims)


MAPPING = ClaimMapping("email", "roles", "oidc:", "oidc-group:")


def test_without_authorize_as_caller_the_caller_acts_as_the_server() -> None:
    found = _caller_of(_token(email="a@example.com", groups=["sre"], roles=["admin"]))
    assert found == caller.Caller("alice", "a@example.com", ("sre",), user=None)


def test_claims_name_the_kubernetes_user_and_groups_with_their_prefixes() -> None:
    found = _caller_of(_token(email="a@example.com", roles=["admin", "dev"]), MAPPING)
    assert found == caller.Caller(
        "alice", "a@example.com", ("oidc-group:admin", "oidc-group:dev"), user="oidc:a@example.com"
    )
    assert _caller_of(_token(sub="alice"), ClaimMapping()) == caller.Caller("alice", user="alice")


def test_a_single_string_group_is_one_group_and_no_groups_claim_is_none() -> None:
    assert _caller_of(_token(email="a@x", roles="admin"), MAPPING).groups == ("oidc-group:admin",)  # type: ignore[union-attr]
    assert _caller_of(_token(email="a@x"), MAPPING).groups == ()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("claims", "logged"),
    [
        ({"roles": ["dev"]}, "--authorize-as-caller takes the Kubernetes user from the 'email' claim (--user-claim)"),
        ({"email": ""}, "the token has no such string claim"),
        ({"email": ["a@x"]}, "the token has no such string claim"),
        ({"email": "a@x", "roles": {"admin": True}}, "the 'roles' claim (--groups-claim) must be a list of strings"),
        ({"email": "a@x", "roles": ["dev", 7]}, "the 'roles' claim (--groups-claim) must be a list of strings"),
        ({"email": "a@x", "email_verified": False}, "its email is the user name but email_verified is false"),
    ],
    ids=["missing-user-claim", "empty-user", "user-not-a-string", "groups-not-a-list", "group-not-a-string",
         "email-unverified"],
)  # fmt: skip
def test_claims_that_cannot_name_the_caller_refuse_the_token_with_a_log_line(
    claims: dict[str, object], logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="k8s_multicluster_mcp.oidc"):
        assert _caller_of(_token(**claims), MAPPING) is None
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith("bearer token of sub=alice refused: ") and logged in message


def test_a_token_lacking_the_user_claim_is_refused_by_the_authenticator(issuer: Issuer) -> None:
    auth = Authenticator(verifier(issuer), None, ClaimMapping(user_claim="email", user_prefix="oidc:"))

    async def run() -> None:
        caller.current.set(None)
        assert await auth.verify_token(issuer.token(AUD, groups=["sre"])) is None
        assert caller.current.get() is None
        assert await auth.verify_token(issuer.token(AUD, email="a@example.com", groups=["sre"])) is not None
        assert caller.acting() == caller.Caller("alice", "a@example.com", ("sre",), user="oidc:a@example.com")

    anyio.run(run)
