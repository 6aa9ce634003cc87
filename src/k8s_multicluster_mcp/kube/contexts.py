"""Kubeconfig discovery, context naming and matching, and one API client per context.

The `ContextRegistry` is the single owner of "which clusters exist": it reads every kubeconfig
source (a directory, explicit files, `$KUBECONFIG`), gives each context a unique name (a name
defined in two files becomes `name@file` for both, never silently overwritten), applies the
`--contexts` allow-list (a context outside it does not exist for anyone), re-reads files when
they change, and resolves what a caller asks for (exact name, unique substring, glob, list).
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from k8s_multicluster_mcp.common.errors import (
    AmbiguousContextError,
    ClusterAuthError,
    ClusterTimeoutError,
    ContextNotFoundError,
    NoContextsError,
)
from k8s_multicluster_mcp.common.text import format_names, one_line, shown
from k8s_multicluster_mcp.kube import deadlines

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, Configuration

log = logging.getLogger(__name__)

MAX_KUBECONFIG_BYTES = 5 * 1024 * 1024
_NOT_KUBECONFIG_SUFFIXES = frozenset(
    {
        ".md", ".txt", ".rst", ".log", ".lock", ".bak", ".swp", ".tmp", ".orig", ".pem", ".crt",
        ".cert", ".key", ".pub", ".csr", ".sh", ".bash", ".zsh", ".ps1", ".py", ".go", ".js", ".tar",
        ".gz", ".tgz", ".zip", ".png", ".jpg", ".db", ".sqlite", ".pid",
    }
)  # fmt: skip
_GLOB_CHARS = frozenset("*?[")


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


@dataclass(frozen=True)
class _ParsedFile:
    path: Path
    fingerprint: tuple[int, int]
    config: dict[str, Any] | None
    problem: str | None


@dataclass
class _Client:
    fingerprint: tuple[int, int]
    client: ApiClient


def _fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _looks_like_kubeconfig_name(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix.lower() not in _NOT_KUBECONFIG_SUFFIXES


_KUBECONFIG_TEXT = re.compile(
    r"^[\"']?(clusters|contexts|users|current-context)[\"']?\s*:|kind:\s*Config\b", re.M
)
"""Text that marks a file as meant to be a kubeconfig even when it does not parse."""


def _parse_problem(exc: BaseException) -> str:
    if isinstance(exc, yaml.YAMLError):
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or type(exc).__name__
        return f"malformed YAML{where}: {what}"
    if isinstance(exc, RecursionError):
        return "malformed YAML: nested too deeply"
    return f"malformed YAML: {one_line(str(exc) or type(exc).__name__)}"


def _auth_kind(user: dict[str, Any]) -> str:
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


def _by_name(entries: Any) -> dict[str, dict[str, Any]]:
    """Map a kubeconfig list section (`clusters`, `users`, `contexts`) by entry name."""
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(entries, list):
        return out
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            body = next((v for k, v in entry.items() if k != "name"), None)
            out.setdefault(entry["name"], body if isinstance(body, dict) else {})
    return out


class _ErrorCapture(logging.Filter):
    """Collects, per thread, the errors the kubernetes client logs instead of raising.

    The official client swallows exec-plugin failures and only logs them; capturing them lets a
    failed `aws eks get-token` be reported as "exec plugin failed: …" instead of a bare 401.
    """

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        buffer: list[str] | None = getattr(self._local, "buffer", None)
        if buffer is not None and record.levelno >= logging.ERROR:
            buffer.append(record.getMessage().strip())
            return False
        return True

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        previous = getattr(self._local, "buffer", None)
        buffer: list[str] = []
        self._local.buffer = buffer
        try:
            yield buffer
        finally:
            self._local.buffer = previous


_client_errors = _ErrorCapture()
logging.getLogger().addFilter(_client_errors)
capture_client_errors = _client_errors.capture


_import_lock = threading.Lock()


def load_kubernetes() -> None:
    """Import the kubernetes client, once, under a lock.

    It is imported on first use rather than at start (half a second before `initialize`), and its
    package imports itself circularly: two threads importing it at once see half-initialized
    modules (ImportError, _DeadlockError). Every lazy import of it goes through here first.
    """
    with _import_lock:
        import kubernetes.client
        import kubernetes.config.kube_config

        log.debug("kubernetes client %s loaded", kubernetes.client.__version__)


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
    ) -> None:
        self._directory = directory
        self._directory_explicit = directory_explicit
        self._files = tuple(files)
        self._env_files = tuple(env_files)
        self._allow = tuple(allow)
        self._reload_interval = reload_interval
        self._clock = clock
        self._configure_client = configure_client
        self._lock = threading.RLock()
        self._parsed: dict[Path, _ParsedFile] = {}
        self._inventory: Inventory | None = None
        self._sources_key: tuple[Any, ...] | None = None
        self._checked_at = float("-inf")
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
                    if path.is_file() and _looks_like_kubeconfig_name(path):
                        add(path, False)
            elif self._directory_explicit:
                reason = (
                    "the kubeconfig directory is a file, not a directory (name it with --kubeconfig)"
                    if self._directory.exists()
                    else "kubeconfig directory does not exist"
                )
                problems.append(FileProblem(self._directory, reason))
        return out, problems, searched

    def _parse(self, path: Path, fingerprint: tuple[int, int], explicit: bool) -> _ParsedFile:
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
                if explicit or _KUBECONFIG_TEXT.search(text):
                    problem = _parse_problem(exc)
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
        parsed = _ParsedFile(path, fingerprint, config, problem)
        self._parsed[path] = parsed
        return parsed

    def _build(self) -> Inventory:
        candidates, problems, searched = self._candidates()
        raw: list[ContextInfo] = []
        live_paths: set[Path] = set()
        for path, explicit in candidates:
            fingerprint = _fingerprint(path)
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
                raw.extend(_contexts_of(path, parsed.config, problems))
            except Exception as exc:
                log.debug("reading contexts of %s failed", path, exc_info=True)
                problems.append(FileProblem(path, f"unusable: {type(exc).__name__}: {one_line(str(exc))}"))
        for stale in set(self._parsed) - live_paths:
            del self._parsed[stale]

        named, collisions = _unique_names(raw)
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
        return tuple((str(p), _fingerprint(p)) for p, _ in candidates)

    def inventory(self) -> Inventory:
        """The current contexts; files are re-checked (by mtime and size) at most once a second."""
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
        matches = self.resolve(spec)
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
        fingerprint = _fingerprint(ctx.file) or (0, 0)
        with self._lock:
            cached = self._clients.get(ctx.name)
            if cached is not None and cached.fingerprint == fingerprint:
                return cached.client
            parsed = self._parsed.get(ctx.file)
        if parsed is None or parsed.config is None:
            raise ClusterAuthError(f"kubeconfig {ctx.file} can no longer be read")
        client = self._new_client(ctx, parsed.config)
        with self._lock:
            previous = self._clients.get(ctx.name)
            if previous is not None and previous.fingerprint == fingerprint:
                client.close()
                return previous.client
            self._clients[ctx.name] = _Client(fingerprint, client)
        if previous is not None:
            previous.client.close()
        return client

    def _new_client(self, ctx: ContextInfo, config: dict[str, Any]) -> ApiClient:
        # The kubernetes client loads here, on the first client, not when the server starts.
        load_kubernetes()
        from kubernetes.client import ApiClient, Configuration
        from kubernetes.config.kube_config import KubeConfigLoader

        from k8s_multicluster_mcp.kube import execplugin

        execplugin.install()
        configuration = type.__call__(Configuration)
        try:
            with capture_client_errors() as errors:
                loader = KubeConfigLoader(
                    config_dict=config,
                    config_base_path=str(ctx.file.parent.resolve()),
                    active_context=ctx.raw_name,
                )
                loader.load_and_set(configuration)
        except Exception as exc:
            log.debug("loading credentials of %s failed", ctx.name, exc_info=True)
            raise ClusterAuthError(
                f"cannot load credentials from {ctx.file.name}: {one_line(str(exc))}"
            ) from exc
        running = deadlines.current()
        if ctx.auth.startswith("exec:") and running is not None and running.expired:
            raise ClusterTimeoutError(f"exec plugin ({ctx.auth[5:]}) did not finish in time; killed")
        if ctx.auth.startswith("exec:") and errors:
            raise ClusterAuthError(f"exec plugin failed ({ctx.auth[5:]}): {one_line(errors[-1])}")
        if errors:
            log.warning("context %s: %s", ctx.name, "; ".join(errors))
        configuration.retries = 0
        if self._configure_client is not None:
            self._configure_client(configuration)
        client = ApiClient(configuration=configuration)
        client.user_agent = "k8s-multicluster-mcp"
        deadlines.track_connections(client.rest_client.pool_manager)
        return client

    def _drop_stale_clients(self) -> None:
        contexts = self._inventory.contexts if self._inventory else {}
        for name in list(self._clients):
            ctx = contexts.get(name)
            if ctx is None or _fingerprint(ctx.file) != self._clients[name].fingerprint:
                self._clients.pop(name).client.close()

    def close(self) -> None:
        with self._lock:
            for entry in self._clients.values():
                entry.client.close()
            self._clients.clear()


def _contexts_of(path: Path, config: dict[str, Any], problems: list[FileProblem]) -> list[ContextInfo]:
    """The contexts one parsed kubeconfig file defines; broken entries go to `problems`."""
    out: list[ContextInfo] = []
    clusters = _by_name(config.get("clusters"))
    users = _by_name(config.get("users"))
    for ctx_name, ctx in _by_name(config.get("contexts")).items():
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
        out.append(
            ContextInfo(
                name=ctx_name,
                raw_name=ctx_name,
                file=path,
                cluster=cluster_name,
                server=server if isinstance(server, str) else None,
                user=str(user_name),
                namespace=namespace if isinstance(namespace, str) else None,
                auth=_auth_kind(users.get(str(user_name), {})),
            )
        )
    return out


def _terms(spec: str | Sequence[str] | None) -> list[str]:
    if spec is None:
        return []
    parts = spec.split(",") if isinstance(spec, str) else [p for s in spec for p in s.split(",")]
    return [p.strip() for p in parts if p.strip()]


def _unique_names(contexts: list[ContextInfo]) -> tuple[list[ContextInfo], list[Collision]]:
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


__all__ = [
    "Collision",
    "ContextInfo",
    "ContextRegistry",
    "FileProblem",
    "Inventory",
    "capture_client_errors",
]
