"""Validated server settings, built from command-line flags and environment variables."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from k8s_multicluster_mcp.model.redact import DEFAULT_SENSITIVE_ENV
from k8s_multicluster_mcp.tools.base import Registration

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
Transport = Literal["stdio", "http"]
MIN_TOKEN_LENGTH = 16
TOOLSETS: dict[str, str] = {
    "core": "contexts, namespaces, nodes, any kind: list/get/describe, API discovery, cluster info",
    "fleet": "fleet questions: failing pods, summary, unhealthy deployments, node problems, drift",
    "workloads": "rollout status/history, jobs, cronjobs",
    "config": "secrets (values redacted) and configmaps",
    "rbac": "roles, bindings, service accounts",
    "storage": "persistent volumes and claims, storage classes",
    "network": "network policies",
    "diagnostics": "events, pod logs, top nodes/pods, application diagnosis",
    "write": "create, apply, patch, label, annotate, delete objects and namespaces; secrets, configmaps",
    "scaling": "scale, autoscale, container resources, rollout restart/pause/resume/undo",
    "nodes": "cordon, uncordon, drain, taint, untaint",
    "exec": "run a command in a container",
}
"""Every toolset `--toolsets` may name (`all` = every one)."""
DEFAULT_TOOLSETS = ("core", "fleet", "workloads", "diagnostics")
"""Registered without `--toolsets`: the read tools a fleet question needs (find, triage, diagnose,
compare; 26 tools, about 16 KB of tools/list for the model on every request). Secrets,
configmaps, RBAC, storage and network objects stay readable through core's any-kind tools; the
write toolsets need `--toolsets all` (or naming them)."""


def split_path_list(value: str) -> list[Path]:
    """Split a KUBECONFIG-style list: `:` on POSIX, `;` on Windows (both accepted when unambiguous)."""
    separator = os.pathsep
    if separator == ":" and ";" in value and ":" not in value:
        separator = ";"
    return [Path(part).expanduser() for part in value.split(separator) if part.strip()]


def _is_url(value: str, schemes: tuple[str, ...]) -> bool:
    parts = urlsplit(value)
    return parts.scheme in schemes and bool(parts.hostname) and not parts.query and not parts.fragment


def _loopback_url(value: str) -> bool:
    host = urlsplit(value).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def names_one_interface(host: str) -> bool:
    """False for the wildcard binds ('', 0.0.0.0, ::), which no client can reach by name."""
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return bool(host)


class Settings(BaseModel):
    """Everything the server needs to know at start; immutable once built."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    watch: bool = False
    kubeconfig_dir: Path | None = Field(default_factory=lambda: Path("~/.kube").expanduser())
    kubeconfig: tuple[Path, ...] = ()
    kubeconfig_env: tuple[Path, ...] = ()
    contexts: tuple[str, ...] = ()
    read_only: bool = False
    disable_destructive: bool = False
    require_confirmation: bool = False
    """Refuse destructive calls from clients that cannot ask their user to confirm (no elicitation)."""
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    in_cluster_context: str = Field(default="in-cluster", min_length=1, pattern=r"^\S+$")
    """Name of the context for the cluster the server runs in (in a pod with a service account)."""
    no_in_cluster: bool = False
    """Do not add the in-cluster context even in a pod."""
    service_account_dir: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount")
    """Where the pod's service account (token, ca.crt, namespace) is mounted."""
    stateless: bool = False
    """--transport http: every request stands alone (no session), so any replica can answer it."""
    shutdown_grace: float = Field(default=1.0, ge=0, le=3600, allow_inf_nan=False)
    """--transport http: seconds from SIGTERM to exit: not ready at once, serving on for a quarter
    of it (load balancers stop routing), then open requests finish within the rest."""
    health_port: int | None = Field(default=None, ge=1, le=65535)
    """Port of /healthz, /readyz and /metrics (on --host's address, without the token); None: off."""
    auth_token: SecretStr | None = None
    """Bearer token every HTTP request must carry (from --auth-token-file or K8S_MCP_AUTH_TOKEN)."""
    public_url: str | None = None
    """--transport http: the MCP endpoint's URL as clients reach it (the OAuth resource); default
    http://HOST:PORT/mcp."""
    oidc_audience: str | None = Field(default=None, min_length=1)
    """The `aud` a JWT bearer token must name (usually the public URL)."""
    oidc_scopes: tuple[str, ...] = ()
    """Scopes every JWT bearer token must carry (403 otherwise)."""
    oidc_issuer: str | None = None
    """OIDC issuer whose JWT bearer tokens are accepted (OAuth resource server); None: off."""
    authorize_as_caller: bool = False
    """--transport http: each caller acts with its own Kubernetes identity (issue 20): live reads
    and writes impersonate it, cached answers are filtered by SubjectAccessReview."""
    user_claim: str = Field(default="sub", min_length=1)
    """The JWT claim whose value is the caller's Kubernetes user name (like the API server's
    --oidc-username-claim)."""
    groups_claim: str = Field(default="groups", min_length=1)
    """The JWT claim (a list of strings) holding the caller's Kubernetes groups."""
    user_prefix: str = ""
    """Prefixed to the user name from `user_claim` (like --oidc-username-prefix)."""
    groups_prefix: str = ""
    """Prefixed to every group from `groups_claim` (like --oidc-groups-prefix)."""
    auth_token_map: Path | None = None
    """A YAML file of `{token, user, groups}` entries: static tokens, each naming whom it acts as."""
    authorization_ttl: float = Field(default=10.0, ge=0, le=3600, allow_inf_nan=False)
    """Seconds an authorization decision (SubjectAccessReview) is reused for the same caller,
    context, resource and namespace; 0 asks every time."""
    allowed_hosts: tuple[str, ...] = ()
    log_level: LogLevel = "WARNING"
    request_timeout: float = Field(default=5.0, gt=0, le=300, allow_inf_nan=False)
    list_timeout: float = Field(default=60.0, gt=0, le=300, allow_inf_nan=False)
    """--watch: how long a watch's list (first fill or relist) may wait for the API server's next bytes."""
    cache_ttl: float = Field(default=10.0, ge=0, le=3600, allow_inf_nan=False)
    max_workers: int = Field(default=128, ge=1, le=1024)
    """Calls into clusters at once; threads start only as calls need them. A question over more
    clusters than this queues some of them, and those may answer `timeout`."""
    pending_grace: float = Field(default=300.0, ge=0, le=86400, allow_inf_nan=False)
    restart_threshold: int = Field(default=5, ge=1, le=10_000)
    stale_after: float = Field(default=120.0, ge=1, le=86400, allow_inf_nan=False)
    idle_ttl: float = Field(default=4 * 3600.0, ge=0, le=30 * 86400, allow_inf_nan=False)
    toolsets: tuple[str, ...] = DEFAULT_TOOLSETS
    """Toolsets to register (`all` names every one; none named: the default)."""
    allow_secret_values: bool = False
    """Show Secret values and sensitive-looking env values (an operator's choice, never a tool's)."""
    sensitive_env_pattern: str = DEFAULT_SENSITIVE_ENV

    @field_validator("sensitive_env_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        if not value.strip() or re.search(value, "", re.IGNORECASE):
            raise ValueError("the pattern matches every name (even an empty one)")
        return value

    def registration(self) -> Registration:
        """Which tools these settings register (the server's, and what `check` reviews)."""
        return Registration(
            frozenset(self.toolsets) or None,
            self.read_only,
            self.disable_destructive,
            self.require_confirmation,
        )

    @field_validator("toolsets", mode="before")
    @classmethod
    def _split_toolsets(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, (list, tuple)):
            return tuple(str(v).strip().lower() for v in value if str(v).strip())
        return value

    @field_validator("toolsets")
    @classmethod
    def _known_toolsets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v != "all" and v not in TOOLSETS]
        if unknown:
            raise ValueError(
                f"unknown toolset {', '.join(map(repr, unknown))}; valid: {', '.join(TOOLSETS)}, all"
            )
        if "all" in value:
            return tuple(TOOLSETS)
        return value or DEFAULT_TOOLSETS

    @field_validator("log_level", "transport", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.strip().upper() if info.field_name == "log_level" else value.strip().lower()

    @field_validator("health_port")
    @classmethod
    def _health_port_free(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("transport") == "http" and value == info.data.get("port"):
            raise ValueError(f"{value} is also --port, where the MCP server listens; give another port")
        return value

    @field_validator("auth_token")
    @classmethod
    def _token_strong_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"the token must have at least {MIN_TOKEN_LENGTH} characters")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not _is_url(value, ("http", "https")):
            raise ValueError(
                f"{value!r} is not a URL; give the MCP endpoint as clients reach it, e.g. https://mcp.example.com/mcp"
            )
        return value

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer_usable(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if info.data.get("transport") != "http":
            raise ValueError(
                "OAuth applies to --transport http only; add --transport http or drop the issuer"
            )
        if not info.data.get("oidc_audience"):
            raise ValueError(
                "needs --oidc-audience / K8S_MCP_OIDC_AUDIENCE, the `aud` its tokens name for this server"
            )
        if not (_is_url(value, ("https",)) or (_is_url(value, ("http",)) and _loopback_url(value))):
            raise ValueError(
                f"{value!r} must be an https:// URL (http:// only on loopback, e.g. http://127.0.0.1:8080)"
            )
        if info.data.get("public_url") is None and not names_one_interface(str(info.data.get("host", ""))):
            raise ValueError(
                "with --host on every interface, give --public-url: the MCP endpoint's URL for clients"
            )
        return value

    @field_validator("auth_token_map")
    @classmethod
    def _token_map_over_http(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and info.data.get("transport") != "http":
            raise ValueError(
                "bearer tokens apply to --transport http only; add --transport http or drop the map"
            )
        return value

    @model_validator(mode="after")
    def _caller_identity_source(self) -> Settings:
        """--authorize-as-caller needs callers told apart: an HTTP server with OIDC or a token map.
        (A model check: the map is declared after the flag, so a field check could not see it.)"""
        if not self.authorize_as_caller:
            return self
        if self.transport != "http":
            raise ValueError(
                "--authorize-as-caller applies to --transport http only (over stdio the caller is the "
                "server's user); add --transport http or drop --authorize-as-caller"
            )
        if self.oidc_issuer is None and self.auth_token_map is None:
            raise ValueError(
                "--authorize-as-caller needs to know who calls: give --oidc-issuer URL (identity from "
                "the token's claims) or --auth-token-map FILE (static tokens, each naming its user)"
            )
        return self

    @property
    def resource_url(self) -> str:
        """The MCP endpoint's URL as clients reach it: --public-url, else http://HOST:PORT/mcp."""
        if self.public_url is not None:
            return self.public_url
        host = self.host if names_one_interface(self.host) else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/mcp"

    @property
    def exposed(self) -> bool:
        """Whether --transport http would listen beyond this machine's loopback interface."""
        if self.host == "localhost":
            return False
        try:
            return not ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            return True

    @field_validator("contexts")
    @classmethod
    def _patterns_not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(p.strip() for p in value if p.strip())
        if value and not cleaned:
            raise ValueError("--contexts was given but names no context pattern")
        return cleaned
