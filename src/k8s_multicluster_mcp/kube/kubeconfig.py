"""Kubeconfig files read as data: which files count, what each defines, the unique name of each
context, and why a file or an entry cannot be used."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from k8s_multicluster_mcp.common.text import one_line, shown
from k8s_multicluster_mcp.model.contexts import Collision, ContextInfo, FileProblem

if TYPE_CHECKING:
    pass


MAX_KUBECONFIG_BYTES = 5 * 1024 * 1024


_NOT_KUBECONFIG_SUFFIXES = frozenset(
    {
        ".md", ".txt", ".rst", ".log", ".lock", ".bak", ".swp", ".tmp", ".orig", ".pem", ".crt",
        ".cert", ".key", ".pub", ".csr", ".sh", ".bash", ".zsh", ".ps1", ".py", ".go", ".js", ".tar",
        ".gz", ".tgz", ".zip", ".png", ".jpg", ".db", ".sqlite", ".pid",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ParsedFile:
    path: Path
    fingerprint: tuple[int, int]
    config: dict[str, Any] | None
    problem: str | None


def file_fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def looks_like_kubeconfig_name(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix.lower() not in _NOT_KUBECONFIG_SUFFIXES


KUBECONFIG_TEXT = re.compile(
    r"^[\"']?(clusters|contexts|users|current-context)[\"']?\s*:|kind:\s*Config\b", re.M
)
"""Text that marks a file as meant to be a kubeconfig even when it does not parse."""


def parse_problem(exc: BaseException) -> str:
    if isinstance(exc, yaml.YAMLError):
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or type(exc).__name__
        return f"malformed YAML{where}: {what}"
    if isinstance(exc, RecursionError):
        return "malformed YAML: nested too deeply"
    return f"malformed YAML: {one_line(str(exc) or type(exc).__name__)}"


def auth_kind(user: dict[str, Any]) -> str:
    if "exec" in user and isinstance(user["exec"], dict):
        return f"exec:{Path(str(user['exec'].get('command', '?'))).name}"
    if "auth-provider" in user and isinstance(user["auth-provider"], dict):
        return f"auth-provider:{user['auth-provider'].get('name', '?')}"
    if "token" in user or "tokenFile" in user:
        return "token"
    if "client-certificate" in user or "client-certificate-data" in user:
        return "client-cert"
    if "username" in user:
        return "basic"
    return "none"


_USER_FILES = ("client-certificate", "client-key", "tokenFile")
"""User entry fields naming files, which kubectl reads relative to the kubeconfig's folder."""


def _digest(*parts: object) -> str:
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _server(url: str) -> str:
    """A server URL as one cluster spells it whatever the kubeconfig wrote: scheme and host lower
    case, the default port explicit, no trailing slash."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return url.strip()
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{host}:{port}{parts.path.rstrip('/')}"


def _ca(cluster: dict[str, Any], folder: Path) -> str:
    """The CA a cluster entry trusts, as its bytes' digest (data or file; the path if unreadable)."""
    data = cluster.get("certificate-authority-data")
    if isinstance(data, str):
        try:
            return _digest(base64.b64decode(data, validate=False))
        except (binascii.Error, ValueError):
            return _digest(data)
    path = cluster.get("certificate-authority")
    if isinstance(path, str):
        file = folder / path
        try:
            return _digest(file.read_bytes())
        except OSError:
            return _digest(str(file.resolve()))
    return "system" if not cluster.get("insecure-skip-tls-verify") else "insecure"


def cluster_key(cluster: dict[str, Any], folder: Path) -> str | None:
    """Which cluster an entry reaches: its server URL and the CA it trusts (None with no server)."""
    server = cluster.get("server")
    if not isinstance(server, str) or not server.strip():
        return None
    return _digest(
        _server(server), _ca(cluster, folder), cluster.get("tls-server-name"), cluster.get("proxy-url")
    )


def identity_key(cluster: str | None, user: dict[str, Any], folder: Path) -> str | None:
    """Which cluster and credentials: the user entry whole (token, certificates, exec plugin,
    impersonation), file paths made absolute, digested."""
    if cluster is None:
        return None
    fields = {
        k: (str((folder / v).resolve()) if k in _USER_FILES and isinstance(v, str) else v)
        for k, v in user.items()
    }
    return _digest(cluster, fields)


def by_name(entries: Any) -> dict[str, dict[str, Any]]:
    """Map a kubeconfig list section (`clusters`, `users`, `contexts`) by entry name."""
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(entries, list):
        return out
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            body = next((v for k, v in entry.items() if k != "name"), None)
            out.setdefault(entry["name"], body if isinstance(body, dict) else {})
    return out


def contexts_of(path: Path, config: dict[str, Any], problems: list[FileProblem]) -> list[ContextInfo]:
    """The contexts one parsed kubeconfig file defines; broken entries go to `problems`."""
    out: list[ContextInfo] = []
    clusters = by_name(config.get("clusters"))
    users = by_name(config.get("users"))
    for ctx_name, ctx in by_name(config.get("contexts")).items():
        cluster_name = ctx.get("cluster")
        if not isinstance(cluster_name, str) or cluster_name not in clusters:
            problems.append(
                FileProblem(
                    path, f"context {shown(ctx_name)} refers to missing cluster {shown(cluster_name)}"
                )
            )
            continue
        user_name = ctx.get("user") if isinstance(ctx.get("user"), str) else ""
        server = clusters[cluster_name].get("server")
        namespace = ctx.get("namespace")
        user = users.get(str(user_name), {})
        reaches = cluster_key(clusters[cluster_name], path.parent)
        out.append(
            ContextInfo(
                name=ctx_name,
                raw_name=ctx_name,
                file=path,
                cluster=cluster_name,
                server=server if isinstance(server, str) else None,
                user=str(user_name),
                namespace=namespace if isinstance(namespace, str) else None,
                auth=auth_kind(user),
                cluster_key=reaches,
                identity_key=identity_key(reaches, user, path.parent),
            )
        )
    return out


def unique_names(contexts: list[ContextInfo]) -> tuple[list[ContextInfo], list[Collision]]:
    """Rename contexts whose name appears in more than one file to `name@file`."""
    by_name: dict[str, list[ContextInfo]] = {}
    for ctx in contexts:
        by_name.setdefault(ctx.raw_name, []).append(ctx)
    renamed: dict[int, ContextInfo] = {}
    collisions: list[Collision] = []
    for raw_name, group in by_name.items():
        if len(group) < 2:
            continue
        basenames = [c.file.name for c in group]
        unique_basenames = len(set(basenames)) == len(basenames)
        names = []
        for ctx in group:
            suffix = ctx.file.name if unique_basenames else str(ctx.file)
            new = replace(ctx, name=f"{raw_name}@{suffix}")
            renamed[id(ctx)] = new
            names.append(new.name)
        collisions.append(Collision(raw_name, tuple(names)))
    return [renamed.get(id(c), c) for c in contexts], collisions
