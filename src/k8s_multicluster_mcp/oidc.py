"""MCP authorization as an OAuth 2.1 resource server: JWT bearer tokens from one OIDC issuer.

The MCP SDK does the HTTP side (`AuthSettings` + a `TokenVerifier` make `streamable_http_app`
refuse unauthenticated requests with 401 and `WWW-Authenticate: Bearer ...
resource_metadata="..."`, and publish RFC 9728 metadata); this module is the verifier:

- the issuer's `jwks_uri` comes from `{issuer}/.well-known/openid-configuration` (fetched once;
  while it fails, tried again at most once per cooldown; its `issuer` must be the configured one);
- keys come from PyJWT's `PyJWKClient`: the key set is cached for `JWKS_LIFESPAN`, refetched when
  a token names an unknown key id (a rotation), but at most once per `cooldown` seconds, so a
  flood of made-up key ids cannot hammer the issuer;
- `jwt.decode` checks the signature with the algorithms the key's type allows (never `none`,
  never HS* with a public key), `iss`, `aud`, `exp` and `nbf` with `LEEWAY` seconds of clock skew,
  and requires `exp`, `iss` and `aud`; required scopes are the SDK's check (403);
- blocking HTTP runs in a worker thread, off the event loop.

With static tokens too (`--auth-token-file`, `--auth-token-map`: `tokenmap.StaticTokens`), a
request carrying the operator's token is the operator (subject `operator`, every required scope)
and one carrying a token map's token is that entry's user; any other bearer token must be a JWT
from the issuer. An accepted caller's identity is put in `common.caller` for the audit log.

With `--authorize-as-caller` a JWT's claims name the caller's Kubernetes identity, as the API
server's own OIDC authenticator would: `--user-claim` (default `sub`) with `--user-prefix`, and
`--groups-claim` (default `groups`: a list of strings, or one string) each with `--groups-prefix`.
A token without a usable user claim is refused (401): acting as nobody in particular would
quietly fall back to the server's identity.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import anyio
import jwt
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.settings import Settings
from k8s_multicluster_mcp.tokenmap import OPERATOR, StaticTokens

log = logging.getLogger(__name__)

LEEWAY = 30.0
"""Seconds of clock skew allowed on `exp` and `nbf`."""
JWKS_LIFESPAN = 300.0
"""Seconds a fetched key set is trusted before it is fetched again."""
COOLDOWN = 10.0
"""Least seconds between two fetches of the key set caused by unknown key ids."""
HTTP_TIMEOUT = 5.0

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "ES256K", "EdDSA"}
)
"""Signature algorithms a token may use: public-key ones only (never `none`, never HS*)."""


def _allowed_algorithms(key: jwt.PyJWK) -> list[str]:
    """The one algorithm the key is for (its `alg`, or its type's default), if it is public-key."""
    return [key.algorithm_name] if key.algorithm_name in ASYMMETRIC else []


def _scopes(claims: dict[str, Any]) -> list[str]:
    """Scopes from `scope` (space-separated, RFC 9068) or `scp` (a list or a string, Entra/Okta)."""
    raw = claims.get("scope", claims.get("scp", ""))
    if isinstance(raw, str):
        return raw.split()
    return [str(s) for s in raw] if isinstance(raw, list) else []


@dataclass(frozen=True)
class ClaimMapping:
    """Which claims name the caller's Kubernetes user and groups, and their prefixes
    (--authorize-as-caller; like the API server's --oidc-username-claim and its kin)."""

    user_claim: str = "sub"
    groups_claim: str = "groups"
    user_prefix: str = ""
    groups_prefix: str = ""


def _caller_of(token: AccessToken, mapping: ClaimMapping | None = None) -> caller.Caller | None:
    """Who the token names. With a mapping (--authorize-as-caller) also the Kubernetes user and
    groups it acts as, or None when its claims cannot name them (the token is then refused)."""
    claims = token.claims or {}
    sub = token.subject or token.client_id
    email = str(claims["email"]) if isinstance(claims.get("email"), str) else None
    if mapping is None:
        groups = claims.get("groups")
        return caller.Caller(sub, email, tuple(str(g) for g in groups) if isinstance(groups, list) else ())
    user = claims.get(mapping.user_claim)
    if not isinstance(user, str) or not user.strip():
        log.warning(
            "bearer token of sub=%s refused: --authorize-as-caller takes the Kubernetes user from the "
            "%r claim (--user-claim), and the token has no such string claim", sub, mapping.user_claim,
        )  # fmt: skip
        return None
    if mapping.user_claim == "email" and claims.get("email_verified") is False:
        log.warning(
            "bearer token of sub=%s refused: its email is the user name but email_verified is false", sub
        )
        return None
    groups = claims.get(mapping.groups_claim, [])
    groups = [groups] if isinstance(groups, str) else groups
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        log.warning(
            "bearer token of sub=%s refused: the %r claim (--groups-claim) must be a list of strings",
            sub, mapping.groups_claim,
        )  # fmt: skip
        return None
    return caller.Caller(
        sub,
        email,
        tuple(mapping.groups_prefix + g for g in groups),
        user=mapping.user_prefix + user,
    )


class OidcVerifier:
    """Validates JWT access tokens from one issuer for one audience (see the module docstring)."""

    def __init__(self, issuer: str, audience: str, *, cooldown: float = COOLDOWN) -> None:
        self.issuer = issuer
        self.audience = audience
        self._cooldown = cooldown
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()
        self._failed_at = -math.inf

    def _keys(self) -> jwt.PyJWKClient:
        """The key-set client, discovering `jwks_uri` on first use."""
        with self._lock:
            if self._jwks is None:
                if time.monotonic() - self._failed_at < self._cooldown:
                    raise ValueError("the issuer's discovery document failed within the cooldown")
                self._failed_at = time.monotonic()  # until it succeeds: a down issuer is not hammered
                url = f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"
                # The issuer is https:// or loopback http:// (settings), so this is no file:// read.
                with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:  # noqa: S310  # nosec B310
                    config = json.load(response)
                if config.get("issuer") != self.issuer:
                    raise ValueError(f"{url} names issuer {config.get('issuer')!r}, not {self.issuer!r}")
                self._jwks = jwt.PyJWKClient(
                    str(config["jwks_uri"]),
                    lifespan=JWKS_LIFESPAN,
                    timeout=HTTP_TIMEOUT,
                    cooldown_duration=self._cooldown,
                )
                self._failed_at = -math.inf
            return self._jwks

    def verify(self, token: str) -> AccessToken | None:
        """The token's identity if it is a valid JWT for this issuer and audience, else None.
        Blocking (it may fetch the issuer's discovery document and keys)."""
        try:
            key = self._keys().get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=_allowed_algorithms(key),
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, OSError, ValueError, KeyError) as exc:
            log.info("bearer token refused: %s", exc)
            return None
        subject = claims.get("sub")
        return AccessToken(
            token=token,
            client_id=str(claims.get("azp") or claims.get("client_id") or subject or ""),
            scopes=_scopes(claims),
            expires_at=int(claims["exp"]),
            subject=str(subject) if subject is not None else None,
            claims=claims,
        )


class Authenticator:
    """The SDK's `TokenVerifier`: static tokens first (`tokenmap.StaticTokens`), then the issuer's
    JWTs (their claims mapped by `claims` with --authorize-as-caller). Sets `common.caller` for
    the request it accepts."""

    def __init__(
        self, oidc: OidcVerifier, static: StaticTokens | None = None, claims: ClaimMapping | None = None
    ) -> None:
        self.oidc = oidc
        self._static = static
        self._claims = claims

    async def verify_token(self, token: str) -> AccessToken | None:
        accepted = self._static.verify(token) if self._static is not None else None
        if accepted is not None:
            caller.current.set(accepted.caller)
            return accepted.access
        found = await anyio.to_thread.run_sync(self.oidc.verify, token)
        who = _caller_of(found, self._claims) if found is not None else None
        if found is None or who is None:
            return None
        caller.current.set(who)
        return found


def auth_settings(issuer: str, resource_url: str, scopes: tuple[str, ...]) -> AuthSettings:
    """The SDK's resource-server settings: the audience check is ours (`OidcVerifier`), so the
    SDK's RFC 8707 `resource` comparison is off."""
    return AuthSettings(
        issuer_url=AnyHttpUrl(issuer),
        resource_server_url=AnyHttpUrl(resource_url),
        required_scopes=list(scopes) or None,
        validate_token_resource=False,
    )


def from_settings(
    settings: Settings, static: StaticTokens | None = None
) -> tuple[AuthSettings, Authenticator] | None:
    """What `build_server` needs for `--oidc-issuer` (`static`: `tokenmap.from_settings`'s); None
    without it."""
    if settings.oidc_issuer is None or settings.oidc_audience is None:
        return None
    verifier = OidcVerifier(settings.oidc_issuer, settings.oidc_audience)
    claims = (
        ClaimMapping(settings.user_claim, settings.groups_claim, settings.user_prefix, settings.groups_prefix)
        if settings.authorize_as_caller
        else None
    )
    return (
        auth_settings(settings.oidc_issuer, settings.resource_url, settings.oidc_scopes),
        Authenticator(verifier, static, claims),
    )


__all__ = ["OPERATOR", "Authenticator", "ClaimMapping", "OidcVerifier", "auth_settings", "from_settings"]
