"""Kubeconfig contexts as data: one usable context under the unique name the whole server uses,
a file or entry that could not be used, a name defined in several files, and all of it at one
moment (`Inventory`). `kube/` reads them from files; everything above only reads them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ContextInfo:
    """One usable kubeconfig context, under the unique name the whole server uses."""

    name: str
    raw_name: str
    file: Path
    cluster: str
    server: str | None
    user: str
    namespace: str | None
    auth: str
    cluster_key: str | None = None
    """Which cluster this context reaches: a digest of its server URL and the CA it trusts (None
    when the entry names no server). Contexts with equal keys are one cluster in fleet answers."""
    identity_key: str | None = None
    """Which cluster and credentials (a digest; no secret can be read back from it). Contexts with
    equal keys see exactly what each other sees, so the watch cache keeps one set of watches for
    them."""


@dataclass(frozen=True)
class FileProblem:
    """A kubeconfig file (or one entry in it) that could not be used, and why."""

    file: Path
    reason: str


@dataclass(frozen=True)
class Collision:
    """A context name defined in several files, and the unique names each copy got."""

    raw_name: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Inventory:
    """What the kubeconfig sources held at one moment."""

    contexts: dict[str, ContextInfo]
    problems: tuple[FileProblem, ...]
    collisions: tuple[Collision, ...]
    searched: tuple[str, ...]
    hidden: int = 0
    """Contexts left out by the allow-list (counted, never named)."""


__all__ = ["Collision", "ContextInfo", "FileProblem", "Inventory"]
