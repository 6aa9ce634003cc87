"""JWT validation of `--oidc-issuer` against a local issuer (keys from `cryptography`, JWKS on
loopback): good token, wrong audience, expired, unknown key id then rotation, bad signature,
`alg: none`, and the static token beside it."""

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
from pydantic import SecretStr

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.oidc import LEEWAY, OPERATOR, Authenticator, OidcVerifier
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
    auth = Authenticator(verifier(issuer), SecretStr(static), ("k8s",))

    async def run() -> None:
        operator = await auth.verify_token(static)
        assert operator is not None and (operator.subject, operator.scopes) == (OPERATOR, ["k8s"])
        assert caller.current.get() == caller.Caller(OPERATOR)
        found = await auth.verify_token(issuer.token(AUD, email="a@example.com", groups=["sre", "dev"]))
        assert found is not None
        assert caller.by() == " by sub=alice email=a@example.com groups=sre,dev"
        assert await auth.verify_token("s" * 31) is None

    anyio.run(run)
