"""The context registry: which contexts exist, which one a caller means, and one pooled API client
per context (files are read by `kubeconfig`, clients built by `client`).

The `ContextRegistry` is the single owner of "which clusters exist": it reads every kubeconfig
source (a directory, explicit files, `$KUBECONFIG`), gives each context a unique name (a name
defined in two files becomes `name@file` for both, never silently overwritten), applies the
`--contexts` allow-list (a context outside it does not exist for anyone), re-reads files when
they change, and resolves what a caller asks for (exact name, unique substring, glob, list).
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from k8s_multicluster_mcp.common.errors import (
    AmbiguousContextError,
    ClusterAuthError,
    ContextNotFoundError,
    NoContextsError,
    UserError,
)
from k8s_multicluster_mcp.common.text import format_names, one_line, shown
from k8s_multicluster_mcp.kube import noblock
from k8s_multicluster_mcp.kube.client import new_client
from k8s_multicluster_mcp.kube.incluster import SERVICE_ACCOUNT_DIR, in_cluster
from k8s_multicluster_mcp.kube.kubeconfig import (
    KUBECONFIG_TEXT,
    MAX_KUBECONFIG_BYTES,
    ParsedFile,
    contexts_of,
    file_fingerprint,
    looks_like_kubeconfig_name,
    parse_problem,
    unique_names,
)
from k8s_multicluster_mcp.model.contexts import Collision, ContextInfo, FileProblem, Inventory

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, Configuration

log = logging.getLogger(__name__)

_GLOB_CHARS = frozenset("*?[")


@dataclass
class _Client:
    fingerprint: tuple[int, int]
    client: ApiClient


class ContextRegistry:
    """All contexts from all kubeconfig sources, kept current, with one API client per context."""

    def __init__(
        self,
        *,
        directory: Path | None = None,
        directory_explicit: bool = False,
        files: Sequence[Path] = (),
        env_files: Sequence[Path] = (),
        allow: Sequence[str] = (),
        reload_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        configure_client: Callable[[Configuration], None] | None = None,
        in_cluster: str | None = None,
        service_account_dir: Path = SERVICE_ACCOUNT_DIR,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self._directory = directory
        self._directory_explicit = directory_explicit
        self._files = tuple(files)
        self._env_files = tuple(env_files)
        self._allow = tuple(allow)
        self._reload_interval = reload_interval
        self._clock = clock
        self._configure_client = configure_client
        self._in_cluster = in_cluster
        """The name of the context for the cluster the server runs in (None: not added)."""
        self._service_account_dir = service_account_dir
        self._environ = environ
        self._lock = threading.RLock()
        self._parsed: dict[Path, ParsedFile] = {}
        self._inventory: Inventory | None = None
        self._sources_key: tuple[Any, ...] | None = None
        self._checked_at = float("-inf")
        self._rechecking = False
        self._clients: dict[str, _Client] = {}

    # -- discovery -------------------------------------------------------------------------

    def _candidates(self) -> tuple[list[tuple[Path, bool]], list[FileProblem], list[str]]:
        """Files to read, in precedence order, each flagged explicit (named by the user) or not."""
        seen: set[Path] = set()
        out: list[tuple[Path, bool]] = []
        problems: list[FileProblem] = []
        searched: list[str] = []

        def add(path: Path, explicit: bool) -> None:
            try:
                key = path.resolve()
            except (OSError, RuntimeError):  # a symlink loop, a vanished parent
                key = path.absolute()
            if key not in seen:
                seen.add(key)
                out.append((path, explicit))

        for label, paths in (("--kubeconfig", self._files), ("KUBECONFIG", self._env_files)):
            for path in paths:
                searched.append(f"{label} {path}")
                if path.is_file():
                    add(path, True)
                elif path.exists():
                    problems.append(FileProblem(path, f"named by {label} but is not a regular file"))
                elif label == "--kubeconfig":
                    problems.append(FileProblem(path, "named by --kubeconfig but does not exist"))
                # kubectl ignores KUBECONFIG entries that do not exist; so do we.
        if self._directory is not None:
            searched.append(f"directory {self._directory}")
            if self._directory.is_dir():
                try:
                    entries = sorted(self._directory.iterdir())
                except OSError as exc:
                    problems.append(FileProblem(self._directory, f"cannot list directory: {exc.strerror}"))
                    entries = []
                for path in entries:
                    if path.is_file() and looks_like_kubeconfig_name(path):
                        add(path, False)
            elif self._directory_explicit:
                reason = (
                    "the kubeconfig directory is a file, not a directory (name it with --kubeconfig)"
                    if self._directory.exists()
                    else "kubeconfig directory does not exist"
                )
                problems.append(FileProblem(self._directory, reason))
        return out, problems, searched

    def _parse(self, path: Path, fingerprint: tuple[int, int], explicit: bool) -> ParsedFile:
        cached = self._parsed.get(path)
        if cached is not None and cached.fingerprint == fingerprint:
            return cached
        config: dict[str, Any] | None = None
        problem: str | None = None
        if fingerprint[1] > MAX_KUBECONFIG_BYTES:
            problem = f"larger than {MAX_KUBECONFIG_BYTES // (1024 * 1024)} MiB; not read"
        else:
            text = ""
            try:
                text = path.read_text(encoding="utf-8")
                data = yaml.safe_load(text)
            except OSError as exc:
                problem = f"unreadable: {exc.strerror or exc}"
            except UnicodeDecodeError:
                problem = "not a text file" if explicit else None
            except Exception as exc:
                # yaml raises YAMLError for bad syntax, but also ValueError (an impossible date such
                # as 2020-99-99), RecursionError (thousands of nested brackets) and others.
                if explicit or KUBECONFIG_TEXT.search(text):
                    problem = parse_problem(exc)
                else:
                    log.debug("skipping %s: not YAML, and not a kubeconfig (%s)", path, type(exc).__name__)
            else:
                if isinstance(data, dict) and (
                    data.get("kind") == "Config" or any(k in data for k in ("clusters", "contexts", "users"))
                ):
                    config = data
                elif explicit or (isinstance(data, dict) and data.get("apiVersion") == "v1"):
                    problem = "not a kubeconfig (no clusters, contexts or users)"
                else:
                    log.debug("skipping %s: not a kubeconfig", path)
        parsed = ParsedFile(path, fingerprint, config, problem)
        self._parsed[path] = parsed
        return parsed

    def _build(self) -> Inventory:
        candidates, problems, searched = self._candidates()
        raw: list[ContextInfo] = []
        live_paths: set[Path] = set()
        for path, explicit in candidates:
            fingerprint = file_fingerprint(path)
            if fingerprint is None:
                problems.append(FileProblem(path, "disappeared while being read"))
                continue
            live_paths.add(path)
            parsed = self._parse(path, fingerprint, explicit)
            if parsed.problem:
                problems.append(FileProblem(path, parsed.problem))
            if parsed.config is None:
                continue
            try:
                raw.extend(contexts_of(path, parsed.config, problems))
            except Exception as exc:
                log.debug("reading contexts of %s failed", path, exc_info=True)
                problems.append(FileProblem(path, f"unusable: {type(exc).__name__}: {one_line(str(exc))}"))
        if self._in_cluster:
            found = in_cluster(self._in_cluster, self._environ, self._service_account_dir)
            if isinstance(found, FileProblem):
                problems.append(found)
            elif found is not None:
                ctx, parsed = found
                raw.insert(0, ctx)
                self._parsed[ctx.file] = parsed
                live_paths.add(ctx.file)
        for stale in set(self._parsed) - live_paths:
            del self._parsed[stale]

        named, collisions = unique_names(raw)
        visible = [c for c in named if self._allowed(c)]
        visible_names = {c.name for c in visible}
        shown_collisions = tuple(
            Collision(col.raw_name, tuple(n for n in col.names if n in visible_names))
            for col in collisions
            if sum(n in visible_names for n in col.names) > 1
        )
        for collision in shown_collisions:
            log.warning(
                "context %r is defined in several kubeconfig files; use one of: %s",
                collision.raw_name,
                ", ".join(collision.names),
            )
        for problem in problems:
            log.warning("kubeconfig %s: %s", problem.file, problem.reason)
        return Inventory(
            contexts={c.name: c for c in visible},
            problems=tuple(problems),
            collisions=shown_collisions,
            searched=tuple(searched),
            hidden=len(named) - len(visible),
        )

    def _allowed(self, ctx: ContextInfo) -> bool:
        if not self._allow:
            return True
        return any(
            fnmatch.fnmatchcase(ctx.name, pattern) or fnmatch.fnmatchcase(ctx.raw_name, pattern)
            for pattern in self._allow
        )

    def _sources_fingerprint(self) -> tuple[Any, ...]:
        candidates, _, _ = self._candidates()
        return tuple((str(p), file_fingerprint(p)) for p, _ in candidates)

    def inventory(self) -> Inventory:
        """The current contexts; files are re-checked (by mtime and size) at most once a second.

        On the event loop (`noblock.memory_only`) files are not read: a due re-check starts in a
        background thread and the contexts as last read answer (a second or two old at most; a
        name they do not know sends the question to a thread, `resolve`). A question asked every
        few seconds would otherwise find the re-check due every time and never answer from memory.
        """
        current, checked = self._inventory, self._checked_at  # no lock: a thread may hold it reading files
        if current is not None and self._clock() - checked < self._reload_interval:
            return current
        if current is not None and noblock.active():
            self._recheck_in_background()
            return current
        noblock.check("reading the kubeconfig files")
        with self._lock:
            now = self._clock()
            if self._inventory is not None and now - self._checked_at < self._reload_interval:
                return self._inventory
            self._checked_at = now
            key = self._sources_fingerprint()
            if self._inventory is None or key != self._sources_key:
                if self._inventory is not None:
                    log.info("kubeconfig files changed; re-reading")
                self._inventory = self._build()
                self._sources_key = key
                self._drop_stale_clients()
            return self._inventory

    def _recheck_in_background(self) -> None:
        """Re-check the files in a thread of its own, one at a time (asked from the event loop)."""
        if self._rechecking:
            return
        self._rechecking = True

        def recheck() -> None:
            try:
                self.inventory()
            except Exception:
                log.warning("re-checking the kubeconfig files failed", exc_info=True)
            finally:
                self._rechecking = False

        threading.Thread(target=recheck, name="k8s-kubeconfig-recheck", daemon=True).start()

    # -- matching --------------------------------------------------------------------------

    def no_contexts_message(self) -> str:
        inventory = self.inventory()
        where = "; ".join(inventory.searched) or "nowhere (no kubeconfig source configured)"
        message = f"no Kubernetes contexts found. Looked in: {where}."
        if inventory.hidden:
            message += f" {inventory.hidden} context(s) exist but none matches the --contexts allow-list."
        if inventory.problems:
            message += (
                " Problems: " + "; ".join(f"{p.file}: {p.reason}" for p in inventory.problems[:5]) + "."
            )
        return (
            message + " Set KUBECONFIG_DIR (or --kubeconfig-dir) to a directory of kubeconfig files, or"
            " --kubeconfig/KUBECONFIG to files; run `k8s-multicluster-mcp check` to test them."
        )

    def resolve(self, spec: str | Sequence[str] | None = None) -> list[ContextInfo]:
        """Contexts for a tool's `context` argument.

        Empty, `*` or `all` means every context. Otherwise a comma-separated list (or a list) of
        terms, each an exact name, a glob (`prod-*`), or a unique case-insensitive substring.
        """
        with _said_from_files():
            return self._resolve(spec)

    def _resolve(self, spec: str | Sequence[str] | None) -> list[ContextInfo]:
        contexts = self.inventory().contexts
        if not contexts:
            raise NoContextsError(self.no_contexts_message())
        terms = _terms(spec)
        if not terms or any(t in ("*", "all") for t in terms):
            return list(contexts.values())
        chosen: dict[str, ContextInfo] = {}
        for term in terms:
            for ctx in self._match(term, contexts):
                chosen.setdefault(ctx.name, ctx)
        order = list(contexts)
        return sorted(chosen.values(), key=lambda c: order.index(c.name))

    def resolve_one(self, spec: str | None) -> ContextInfo:
        """Exactly one context, for tools that act on a single cluster."""
        with _said_from_files():
            return self._resolve_one(spec)

    def _resolve_one(self, spec: str | None) -> ContextInfo:
        contexts = self.inventory().contexts
        if not contexts:
            raise NoContextsError(self.no_contexts_message())
        if not spec or not spec.strip():
            if len(contexts) == 1:
                return next(iter(contexts.values()))
            raise AmbiguousContextError(
                "this tool acts on one cluster; name a context. Valid contexts: "
                + format_names(list(contexts))
            )
        matches = self._resolve(spec)
        if len(matches) > 1:
            raise AmbiguousContextError(
                f"context {shown(spec)} matches {len(matches)} contexts and this tool acts on one: "
                f"{format_names([c.name for c in matches])}"
            )
        return matches[0]

    @staticmethod
    def _match(term: str, contexts: dict[str, ContextInfo]) -> list[ContextInfo]:
        if term in contexts:
            return [contexts[term]]
        every = list(contexts.values())
        if _GLOB_CHARS & set(term):
            found = [
                c for c in every if fnmatch.fnmatchcase(c.name, term) or fnmatch.fnmatchcase(c.raw_name, term)
            ]
            if not found:
                raise ContextNotFoundError(
                    f"no context matches the pattern {shown(term)}. "
                    f"Valid contexts: {format_names(list(contexts))}"
                )
            return found
        exact = [c for c in every if c.raw_name == term]
        if len(exact) == 1:
            return exact
        found = exact or [c for c in every if term.lower() in c.name.lower()]
        if len(found) == 1:
            return found
        if found:
            raise AmbiguousContextError(
                f"context {shown(term)} is ambiguous; it matches: {format_names([c.name for c in found])}. "
                "Use a full name, or a glob such as 'prod-*' to mean several."
            )
        raise ContextNotFoundError(
            f"unknown context {shown(term)}. Valid contexts: {format_names(list(contexts))}"
        )

    # -- API clients -----------------------------------------------------------------------

    def api_client(self, ctx: ContextInfo) -> ApiClient:
        """The (pooled, reused) API client for a context; built on first use.

        Raises `ClusterAuthError` when credentials cannot be obtained (exec plugin failed, missing
        certificate file, …): distinct from a cluster that cannot be reached.
        """
        noblock.check(f"the API client of {ctx.name}")
        fingerprint = file_fingerprint(ctx.file) or (0, 0)
        with self._lock:
            cached = self._clients.get(ctx.name)
            if cached is not None and cached.fingerprint == fingerprint:
                return cached.client
            parsed = self._parsed.get(ctx.file)
        if parsed is None or parsed.config is None:
            raise ClusterAuthError(f"kubeconfig {ctx.file} can no longer be read")
        client = new_client(ctx, parsed.config, self._configure_client)
        with self._lock:
            previous = self._clients.get(ctx.name)
            if previous is not None and previous.fingerprint == fingerprint:
                client.close()
                return previous.client
            self._clients[ctx.name] = _Client(fingerprint, client)
        if previous is not None:
            previous.client.close()
        return client

    def _drop_stale_clients(self) -> None:
        contexts = self._inventory.contexts if self._inventory else {}
        for name in list(self._clients):
            ctx = contexts.get(name)
            if ctx is None or file_fingerprint(ctx.file) != self._clients[name].fingerprint:
                self._clients.pop(name).client.close()

    def close(self) -> None:
        with self._lock:
            for entry in self._clients.values():
                entry.client.close()
            self._clients.clear()


def _terms(spec: str | Sequence[str] | None) -> list[str]:
    if spec is None:
        return []
    parts = spec.split(",") if isinstance(spec, str) else [p for s in spec for p in s.split(",")]
    return [p.strip() for p in parts if p.strip()]


@contextlib.contextmanager
def _said_from_files() -> Iterator[None]:
    """A context that cannot be named is said so from the files as they are now: from memory
    they may not have been re-checked (`inventory`), so the question goes to a thread first."""
    try:
        yield
    except UserError:
        noblock.check("naming contexts from the kubeconfig files as they are now")
        raise


__all__ = ["ContextRegistry", "Inventory"]
