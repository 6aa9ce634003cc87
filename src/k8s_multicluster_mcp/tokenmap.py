"""Static bearer tokens: the operator's (`--auth-token-file`) and the token map's
(`--auth-token-map`), each a caller of its own.

The token map is a YAML list of `{token, user, groups}` entries (groups optional): a team server
without an identity provider can still tell its callers apart, and with `--authorize-as-caller`
each acts as its `user` and `groups` in the clusters. `parse` is pure (unit-tested); `TokenMap`
re-reads the file when its mtime or size changes (checked on every request, a `stat`), so an
operator adds or revokes a token without a restart.

Tokens are kept as SHA-256 digests and a presented token is compared with every entry (and the
operator's) by `hmac.compare_digest`, all of them, whatever matched: the time taken says nothing
about which entry, if any, matched, nor about how much of a token was right.

`StaticTokens.verify` is the one check of static tokens: `oidc.Authenticator` asks it before the
issuer, and `http_transport.BearerToken` asks it when there is no issuer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from mcp.server.auth.provider import AccessToken
from pydantic import SecretStr

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.kube.kubeconfig import file_fingerprint
from k8s_multicluster_mcp.settings import MIN_TOKEN_LENGTH, Settings

log = logging.getLogger(__name__)

OPERATOR = "operator"
"""Subject and client id of a request that carries the operator's static token."""
MAX_BYTES = 1024 * 1024
"""A token map larger than this is refused (it is a list of people, not a data set)."""


class TokenMapError(ValueError):
    """A token map that cannot be used: one line naming the file, the entry and what is valid."""


@dataclass(frozen=True)
class Entry:
    """One token map entry: the token's digest, and whom it acts as."""

    digest: bytes
    user: str
    groups: tuple[str, ...] = ()


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _entry(item: object, where: str) -> tuple[str, Entry]:
    """An entry from one list item, and its token (to find duplicates)."""
    if not isinstance(item, dict):
        raise TokenMapError(f"{where}: expected a mapping with token, user and optional groups")
    unknown = sorted(str(k) for k in item if k not in ("token", "user", "groups"))
    if unknown:
        raise TokenMapError(f"{where}: unknown key {', '.join(unknown)}; valid: token, user, groups")
    token, user, groups = item.get("token"), item.get("user"), item.get("groups", [])
    if not isinstance(token, str) or len(token.strip()) < MIN_TOKEN_LENGTH:
        raise TokenMapError(f"{where}: token must be a string of at least {MIN_TOKEN_LENGTH} characters")
    if token != token.strip() or any(c.isspace() for c in token):
        raise TokenMapError(f"{where}: token must not contain spaces or line breaks")
    if not isinstance(user, str) or not user.strip():
        raise TokenMapError(f"{where}: user must be a non-empty string (the Kubernetes user it acts as)")
    if not isinstance(groups, list) or not all(isinstance(g, str) and g.strip() for g in groups):
        raise TokenMapError(f"{where}: groups must be a list of non-empty strings (or left out)")
    return token, Entry(_digest(token), user.strip(), tuple(g.strip() for g in groups))


def parse(text: str, source: str = "token map") -> tuple[Entry, ...]:
    """The entries of a token map's YAML text; `TokenMapError` (one line) if any is unusable.
    An empty list is valid: it admits nobody (the operator's token still works)."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise TokenMapError(
            f"{source}: not valid YAML{at}; expected a list of {{token, user, groups}}"
        ) from exc
    if data is None:
        data = []
    if not isinstance(data, list):
        raise TokenMapError(f"{source}: expected a YAML list of {{token, user, groups}} entries")
    seen: set[str] = set()
    entries = []
    for number, item in enumerate(data, 1):
        token, entry = _entry(item, f"{source} entry {number}")
        if token in seen:
            raise TokenMapError(
                f"{source} entry {number}: the same token as an earlier entry; tokens must be unique"
            )
        seen.add(token)
        entries.append(entry)
    return tuple(entries)


def lookup(entries: tuple[Entry, ...], token: str) -> Entry | None:
    """The entry whose token this is, or None; compares with every entry (constant time)."""
    presented = _digest(token)
    found = None
    for entry in entries:
        if hmac.compare_digest(entry.digest, presented) and found is None:
            found = entry
    return found


def read(path: Path) -> tuple[Entry, ...]:
    """The entries of the token map file at `path`; `TokenMapError` if it cannot be read or used."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise TokenMapError(f"{path}: larger than {MAX_BYTES} bytes; a token map is a short list")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a UTF-8 text file"
        raise TokenMapError(f"{path}: cannot read it: {why}") from exc
    return parse(text, str(path))


class TokenMap:
    """The token map file, re-read when its fingerprint (mtime, size) changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fingerprint = file_fingerprint(path)
        self._entries = read(path)  # at start an unusable file is an error: the server does not start

    def entries(self) -> tuple[Entry, ...]:
        """The current entries. A file that became unreadable or invalid keeps the last good
        entries (with a warning, once per change): an edit saved halfway or a typo must neither
        lock every caller out nor drop a revocation the operator already made; the operator sees
        the warning and fixes the file, and the next good version takes effect."""
        fingerprint = file_fingerprint(self.path)
        with self._lock:
            if fingerprint == self._fingerprint:
                return self._entries
            self._fingerprint = fingerprint
            try:
                self._entries = read(self.path)
            except TokenMapError as exc:
                log.warning(
                    "--auth-token-map: %s; keeping the %d entries read before", exc, len(self._entries)
                )
            else:
                log.warning("--auth-token-map: %s re-read: %d entries", self.path, len(self._entries))
            return self._entries

    def find(self, token: str) -> Entry | None:
        return lookup(self.entries(), token)


@dataclass(frozen=True)
class Accepted:
    """A static token's identity: what the MCP SDK sees, and who the caller is."""

    access: AccessToken
    caller: caller.Caller


class StaticTokens:
    """The operator's token and the token map's: the one check of static bearer tokens.
    `authorize_as_caller` decides whether a map entry's caller acts as its `user` (else the
    server's identity, and the entry only names who called)."""

    def __init__(
        self,
        operator: SecretStr | None = None,
        token_map: TokenMap | None = None,
        *,
        scopes: tuple[str, ...] = (),
        authorize_as_caller: bool = False,
    ) -> None:
        self._operator = _digest(operator.get_secret_value()) if operator is not None else None
        self._map = token_map
        self._scopes = list(scopes)
        self._as_caller = authorize_as_caller

    def verify(self, token: str) -> Accepted | None:
        """Whose token this is, or None; every comparison is made, whichever matches."""
        is_operator = self._operator is not None and hmac.compare_digest(self._operator, _digest(token))
        entry = self._map.find(token) if self._map is not None else None
        if is_operator:
            access = AccessToken(token=OPERATOR, client_id=OPERATOR, subject=OPERATOR, scopes=self._scopes)
            return Accepted(access, caller.Caller(OPERATOR))
        if entry is None:
            return None
        access = AccessToken(token=entry.user, client_id=entry.user, subject=entry.user, scopes=self._scopes)
        user = entry.user if self._as_caller else None
        return Accepted(access, caller.Caller(sub=entry.user, groups=entry.groups, user=user))


def from_settings(settings: Settings) -> StaticTokens | None:
    """The static tokens the settings name, None if none; `TokenMapError` for an unusable map."""
    if settings.auth_token is None and settings.auth_token_map is None:
        return None
    token_map = TokenMap(settings.auth_token_map) if settings.auth_token_map is not None else None
    operator = settings.auth_token
    if token_map is not None and operator is not None and token_map.find(operator.get_secret_value()):
        raise TokenMapError(
            f"{token_map.path}: an entry has the --auth-token-file token, which is the operator's; "
            "give every caller a token of its own"
        )
    return StaticTokens(
        settings.auth_token,
        token_map,
        scopes=settings.oidc_scopes,
        authorize_as_caller=settings.authorize_as_caller,
    )


__all__ = ["Entry", "StaticTokens", "TokenMap", "TokenMapError", "from_settings", "lookup", "parse", "read"]
