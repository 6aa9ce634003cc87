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

With a static token too (`--auth-token-file`), a request carrying exactly that token is the
operator (subject `operator`, every required scope); any other bearer token must be a JWT from
the issuer. An accepted caller's identity is put in `common.caller` for the audit log.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import threading
import time
import urllib.request
from typing import Any

import anyio
import jwt
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl, SecretStr

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.settings import Settings

log = logging.getLogger(__name__)

LEEWAY = 30.0
"""Seconds of clock skew allowed on `exp` and `nbf`."""
JWKS_LIFESPAN = 300.0
"""Seconds a fetched key set is trusted before it is fetched again."""
COOLDOWN = 10.0
"""Least seconds between two fetches of the key set caused by unknown key ids."""
HTTP_TIMEOUT = 5.0
OPERATOR = "operator"
"""Subject and client id of a request that carries the static token."""

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


def _caller_of(token: AccessToken) -> caller.Caller:
    claims = token.claims or {}
    groups = claims.get("groups")
    return caller.Caller(
        sub=token.subject or token.client_id,
        email=str(claims["email"]) if isinstance(claims.get("email"), str) else None,
        groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (),
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
    """The SDK's `TokenVerifier`: the static token first (the operator), then the issuer's JWTs.
    Sets `common.caller` for the request it accepts."""

    def __init__(
        self, oidc: OidcVerifier, static_token: SecretStr | None = None, scopes: tuple[str, ...] = ()
    ) -> None:
        self.oidc = oidc
        self._static = static_token.get_secret_value().encode() if static_token is not None else None
        self._scopes = list(scopes)

    async def verify_token(self, token: str) -> AccessToken | None:
        if self._static is not None and hmac.compare_digest(token.encode(), self._static):
            found: AccessToken | None = AccessToken(
                token=OPERATOR, client_id=OPERATOR, subject=OPERATOR, scopes=self._scopes
            )
        else:
            found = await anyio.to_thread.run_sync(self.oidc.verify, token)
        if found is not None:
            caller.current.set(_caller_of(found))
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


def from_settings(settings: Settings) -> tuple[AuthSettings, Authenticator] | None:
    """What `build_server` needs for `--oidc-issuer`; None without it."""
    if settings.oidc_issuer is None or settings.oidc_audience is None:
        return None
    verifier = OidcVerifier(settings.oidc_issuer, settings.oidc_audience)
    return (
        auth_settings(settings.oidc_issuer, settings.resource_url, settings.oidc_scopes),
        Authenticator(verifier, settings.auth_token, settings.oidc_scopes),
    )


__all__ = ["Authenticator", "OidcVerifier", "auth_settings", "from_settings"]
