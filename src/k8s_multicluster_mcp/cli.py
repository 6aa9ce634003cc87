"""Command line: `k8s-multicluster-mcp [flags]` serves MCP; `k8s-multicluster-mcp check` tests contexts.

Every flag has an environment variable (an MCP client config can set either); a flag given on the
command line wins over its variable.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from k8s_multicluster_mcp import __version__
from k8s_multicluster_mcp.settings import DEFAULT_TOOLSETS, TOOLSETS, Settings, split_path_list

PROG = "k8s-multicluster-mcp"
EXIT_GRACE = 1.0
"""Seconds the process waits at exit for threads still busy with a cluster before it ends anyway."""
log = logging.getLogger(__name__)

# The name of the variable that holds the token, not a token.
TOKEN_ENV = "K8S_MCP_AUTH_TOKEN"  # noqa: S105  # nosec B105
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    dest: str
    env: str | None
    help: str
    kind: str = "value"
    """`value`, `bool`, `list` (comma-separated) or `repeat` (flag may be repeated)."""
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    check: bool = False
    """Also accepted by the `check` subcommand."""


OPTIONS: tuple[Option, ...] = (
    Option(("--watch",), "watch", "K8S_MCP_WATCH",
           "keep a watch cache of pods, deployments and nodes for every context (fast answers)", "bool"),
    Option(("--kubeconfig-dir",), "kubeconfig_dir", "KUBECONFIG_DIR",
           "directory whose kubeconfig files are all read (default ~/.kube)", metavar="DIR", check=True),
    Option(("--kubeconfig",), "kubeconfig", None,
           "a kubeconfig file to read; repeatable. $KUBECONFIG (':'-separated, ';' on Windows) is read too",
           "repeat", metavar="FILE", check=True),
    Option(("--contexts",), "contexts", "K8S_MCP_CONTEXTS",
           "allow-list of context names or globs, comma-separated; other contexts are invisible", "list",
           metavar="PATTERN,...", check=True),
    Option(("--in-cluster-context",), "in_cluster_context", "K8S_MCP_IN_CLUSTER_CONTEXT",
           "in a pod: the name of the context for the cluster the server runs in, from its service "
           "account (default in-cluster)", metavar="NAME", check=True),
    Option(("--no-in-cluster",), "no_in_cluster", "K8S_MCP_NO_IN_CLUSTER",
           "in a pod: do not add the in-cluster context", "bool", check=True),
    Option(("--service-account-dir",), "service_account_dir", "K8S_MCP_SERVICE_ACCOUNT_DIR",
           "where the pod's service account is mounted (default "
           "/var/run/secrets/kubernetes.io/serviceaccount)", metavar="DIR", check=True),
    Option(("--toolsets",), "toolsets", "K8S_MCP_TOOLSETS",
           f"toolsets to register, comma-separated, or all (default {','.join(DEFAULT_TOOLSETS)}; the "
           f"write tools need all or their sets): {', '.join(TOOLSETS)}", "list",
           metavar="SET,..."),
    Option(("--allow-secret-values",), "allow_secret_values", "K8S_MCP_ALLOW_SECRET_VALUES",
           "show Secret values and sensitive-looking env values to the model (default: never)", "bool"),
    Option(("--sensitive-env-pattern",), "sensitive_env_pattern", "K8S_MCP_SENSITIVE_ENV_PATTERN",
           "regular expression (case-insensitive search) of env var names whose literal values are "
           "masked (default: pass|secret|token|key|credential|auth|...)", metavar="REGEX"),
    Option(("--read-only",), "read_only", "K8S_MCP_READ_ONLY", "register no tool that writes", "bool"),
    Option(("--disable-destructive",), "disable_destructive", "K8S_MCP_DISABLE_DESTRUCTIVE",
           "register no destructive tool (delete, namespace deletion, drain, rollout undo, exec) and "
           "refuse scaling to zero", "bool"),
    Option(("--require-confirmation",), "require_confirmation", "K8S_MCP_REQUIRE_CONFIRMATION",
           "refuse destructive calls (those --disable-destructive removes, and scaling to zero) from "
           "clients that cannot ask their user to confirm (no elicitation); clients that can always "
           "ask", "bool"),
    Option(("--transport",), "transport", "K8S_MCP_TRANSPORT",
           "stdio (default, for MCP clients that start the server) or http (streamable HTTP)",
           choices=("stdio", "http")),
    Option(("--host",), "host", "K8S_MCP_HOST",
           "bind address for --transport http (default 127.0.0.1); any other needs --auth-token-file"),
    Option(("--port",), "port", "K8S_MCP_PORT", "port for --transport http (default 8000)"),
    Option(("--stateless",), "stateless", "K8S_MCP_STATELESS",
           "--transport http: no sessions, every request stands alone, so replicas behind a Service "
           "need no affinity (each keeps its own cache)", "bool"),
    Option(("--shutdown-grace",), "shutdown_grace", "K8S_MCP_SHUTDOWN_GRACE",
           "--transport http: seconds from SIGTERM to exit: /readyz fails at once, answers go on for "
           "a quarter of it, then open requests finish within the rest, then the watches stop "
           "(default 1; keep it under the pod's terminationGracePeriodSeconds)", metavar="SECONDS"),
    Option(("--health-port",), "health_port", "K8S_MCP_HEALTH_PORT",
           "serve /healthz, /readyz and /metrics on this port, on --host's address and without the "
           "token (they show counts and context names only); default off", metavar="PORT"),
    Option(("--auth-token-file",), "auth_token_file", "K8S_MCP_AUTH_TOKEN_FILE",
           "file holding the bearer token every HTTP request must carry (or the token itself in "
           "$K8S_MCP_AUTH_TOKEN); required to bind beyond loopback", metavar="FILE"),
    Option(("--oidc-issuer",), "oidc_issuer", "K8S_MCP_OIDC_ISSUER",
           "--transport http: accept JWT bearer tokens from this OIDC issuer (OAuth 2.1 resource "
           "server; https://, or http:// on loopback); a request with the --auth-token-file token "
           "is still the operator", metavar="URL"),
    Option(("--oidc-audience",), "oidc_audience", "K8S_MCP_OIDC_AUDIENCE",
           "the `aud` a token must name for this server (usually --public-url); needed with "
           "--oidc-issuer", metavar="AUD"),
    Option(("--oidc-scopes",), "oidc_scopes", "K8S_MCP_OIDC_SCOPES",
           "scopes every OIDC token must carry, comma-separated (default none)", "list",
           metavar="SCOPE,..."),
    Option(("--auth-token-map",), "auth_token_map", "K8S_MCP_AUTH_TOKEN_MAP",
           "--transport http: YAML list of {token, user, groups} entries, more bearer tokens each "
           "naming its caller (tokens of 16+ characters, unique); re-read when the file changes",
           metavar="FILE"),
    Option(("--authorize-as-caller",), "authorize_as_caller", "K8S_MCP_AUTHORIZE_AS_CALLER",
           "--transport http: each caller acts with its own Kubernetes identity (user and groups "
           "from its OIDC token's claims or its --auth-token-map entry) instead of the server's; "
           "needs --oidc-issuer or --auth-token-map", "bool"),
    Option(("--user-claim",), "user_claim", "K8S_MCP_USER_CLAIM",
           "with --authorize-as-caller: the OIDC claim holding the Kubernetes user name (default "
           "sub); a token without it is refused", metavar="CLAIM"),
    Option(("--groups-claim",), "groups_claim", "K8S_MCP_GROUPS_CLAIM",
           "with --authorize-as-caller: the OIDC claim listing the Kubernetes groups (default "
           "groups)", metavar="CLAIM"),
    Option(("--user-prefix",), "user_prefix", "K8S_MCP_USER_PREFIX",
           "with --authorize-as-caller: prefixed to the OIDC user name, like the API server's "
           "--oidc-username-prefix (default none)", metavar="PREFIX"),
    Option(("--groups-prefix",), "groups_prefix", "K8S_MCP_GROUPS_PREFIX",
           "with --authorize-as-caller: prefixed to every OIDC group, like --oidc-groups-prefix "
           "(default none)", metavar="PREFIX"),
    Option(("--authorization-ttl",), "authorization_ttl", "K8S_MCP_AUTHORIZATION_TTL",
           "with --authorize-as-caller: seconds a caller's permission check on a cluster is reused; "
           "0 asks every time (default 10)", metavar="SECONDS"),
    Option(("--public-url",), "public_url", "K8S_MCP_PUBLIC_URL",
           "--transport http: the MCP endpoint's URL as clients reach it, published as the OAuth "
           "resource (default http://HOST:PORT/mcp)", metavar="URL"),
    Option(("--allowed-hosts",), "allowed_hosts", "K8S_MCP_ALLOWED_HOSTS",
           "Host header names clients use to reach the HTTP server (e.g. the ingress host), "
           "comma-separated; loopback names are always allowed", "list", metavar="HOST,..."),
    Option(("--log-level",), "log_level", "K8S_MCP_LOG_LEVEL", "stderr log level (default WARNING)",
           choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), check=True),
    Option(("--request-timeout",), "request_timeout", "K8S_MCP_REQUEST_TIMEOUT",
           "seconds one cluster may take to answer before it is reported as timed out (default 5)",
           metavar="SECONDS", check=True),
    Option(("--cache-ttl",), "cache_ttl", "K8S_MCP_CACHE_TTL",
           "seconds an on-demand list is reused for related questions; 0 disables (default 10)",
           metavar="SECONDS"),
    Option(("--max-workers",), "max_workers", "K8S_MCP_MAX_WORKERS",
           "clusters asked in parallel (default 128; threads start only as needed)", metavar="N",
           check=True),
    Option(("--pending-grace",), "pending_grace", "K8S_MCP_PENDING_GRACE",
           "failure triage: a pod Pending, NotReady or stuck Terminating this long counts as failing "
           "(default 300)", metavar="SECONDS"),
    Option(("--restart-threshold",), "restart_threshold", "K8S_MCP_RESTART_THRESHOLD",
           "failure triage: a running pod with this many restarts, the last within the hour, counts "
           "as Restarting (default 5)", metavar="N"),
    Option(("--stale-after",), "stale_after", "K8S_MCP_STALE_AFTER",
           "--watch: a context whose watch has been down this long is answered live, or from the "
           "cache marked stale if it does not answer (default 120)", metavar="SECONDS"),
    Option(("--list-timeout",), "list_timeout", "K8S_MCP_LIST_TIMEOUT",
           "--watch: seconds a watch's list (first fill or relist) may wait for the API server's "
           "next bytes before it is retried (default 60)", metavar="SECONDS"),
    Option(("--idle-ttl",), "idle_ttl", "K8S_MCP_IDLE_TTL",
           "--watch: stop the watches of a context nobody asked about for this long and free its "
           "memory; 0 = never (default 14400, 4 hours)", metavar="SECONDS"),
)  # fmt: skip


def _env_help(opt: Option) -> str:
    return f" [env {opt.env}]" if opt.env else ""


def _add_options(parser: argparse.ArgumentParser, for_check: bool) -> None:
    for opt in OPTIONS:
        if for_check and not opt.check:
            continue
        help_text = opt.help + _env_help(opt)
        if opt.kind == "bool":
            parser.add_argument(*opt.flags, dest=opt.dest, action="store_true", default=None, help=help_text)
        elif opt.kind == "repeat":
            parser.add_argument(
                *opt.flags, dest=opt.dest, action="append", metavar=opt.metavar, help=help_text
            )
        else:
            parser.add_argument(
                *opt.flags, dest=opt.dest, metavar=opt.metavar, help=help_text, choices=opt.choices,
                type=str.upper if opt.dest == "log_level" else str,
            )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="MCP server for questions across many Kubernetes clusters at once.",
        epilog=(
            f"subcommands:\n  {PROG} check [--kubeconfig-dir DIR] [--kubeconfig FILE] [--contexts ...]\n"
            "      test every context (reachable, credentials, permissions) and print a table\n\n"
            "Logs go to stderr; in stdio mode stdout carries only the MCP protocol."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_options(parser, for_check=False)
    return parser


def build_check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} check",
        description="Test every kubeconfig context: reachable, credentials accepted, server version, "
        "and whether pods, deployments and nodes may be listed and watched. Exits non-zero when no "
        "context is usable.",
    )
    _add_options(parser, for_check=True)
    return parser


class SettingsError(Exception):
    """A flag or environment variable with a bad value."""


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r}: expected one of 1/0, true/false, yes/no, on/off")


def settings_from(
    args: argparse.Namespace, environ: os._Environ[str] | dict[str, str]
) -> tuple[Settings, bool]:
    """Merge flags over environment variables into validated `Settings`.

    Returns the settings and whether the kubeconfig directory was chosen explicitly (so a missing
    one is reported rather than quietly skipped).
    """
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        if not hasattr(args, opt.dest):
            continue
        given = getattr(args, opt.dest)
        if given is None and opt.env and environ.get(opt.env) is not None:
            raw = environ[opt.env]
            given = _parse_bool(opt.env, raw) if opt.kind == "bool" else raw
        if given is None:
            continue
        if opt.kind == "list":
            given = tuple(p.strip() for p in str(given).split(",") if p.strip())
            if not given:
                raise SettingsError(f"{opt.flags[0]} was given but names nothing")
        elif opt.kind == "repeat":
            given = tuple(Path(p).expanduser() for p in given)
        elif opt.dest in ("kubeconfig_dir", "service_account_dir", "auth_token_map"):
            given = Path(given).expanduser()
        elif opt.dest == "auth_token_file":
            values["auth_token"] = _read_token(Path(given).expanduser())
            continue
        values[opt.dest] = given
    if "auth_token" not in values and environ.get(TOKEN_ENV):
        values["auth_token"] = environ[TOKEN_ENV].strip()
    explicit_dir = "kubeconfig_dir" in values
    if environ.get("KUBECONFIG"):
        values["kubeconfig_env"] = tuple(split_path_list(environ["KUBECONFIG"]))
    try:
        return Settings(**values), explicit_dir
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            if not err["loc"]:  # a check across fields, whose message names the flags itself
                problems.append(str(err["msg"]).removeprefix("Value error, "))
                continue
            field = str(err["loc"][0])
            field = "auth_token_file" if field == "auth_token" else field
            match = next((o for o in OPTIONS if o.dest == field), None)
            name = match.flags[0] + (f" / {match.env}" if match.env else "") if match else field
            if field == "auth_token_file":
                name += f" / {TOKEN_ENV}"
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {message}")
        raise SettingsError("; ".join(problems)) from exc


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a text file"
        raise SettingsError(f"--auth-token-file {path}: cannot read it: {why}") from exc
    if not token or "\n" in token:
        raise SettingsError(f"--auth-token-file {path}: the file must hold one token on one line")
    return token


def _fail(message: str) -> int:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    is_check = bool(argv) and argv[0] == "check"
    parser = build_check_parser() if is_check else build_parser()
    args = parser.parse_args(argv[1:] if is_check else argv)
    try:
        settings, explicit_dir = settings_from(args, os.environ)
    except SettingsError as exc:
        return _fail(str(exc))

    from k8s_multicluster_mcp.common import logs

    logs.configure(settings.log_level)
    from k8s_multicluster_mcp.server import build_registry, build_server, build_services, shutdown

    if (
        settings.transport == "http"
        and settings.exposed
        and settings.auth_token is None
        and settings.auth_token_map is None
        and not settings.oidc_issuer
    ):
        return _fail(
            f"--host {settings.host or repr('')} listens beyond this machine, and without a token anyone who "
            "reaches it could use every context's credentials: give --auth-token-file FILE (or "
            f"{TOKEN_ENV}), --auth-token-map FILE or --oidc-issuer URL, or bind 127.0.0.1"
        )
    from k8s_multicluster_mcp import tokenmap

    try:
        tokens = tokenmap.from_settings(settings)
    except tokenmap.TokenMapError as exc:
        return _fail(f"--auth-token-map / K8S_MCP_AUTH_TOKEN_MAP: {exc}")
    registry = build_registry(settings, directory_explicit=explicit_dir)
    if is_check:
        from k8s_multicluster_mcp.check import run_check

        code = run_check(registry, settings, sys.stdout)
        _exit_promptly(code)
        return code

    if settings.watch:
        log.info("--watch: caching pods, deployments and nodes of every context in the background")
    if settings.read_only:
        log.info("--read-only: tools that write are not registered")
    if settings.disable_destructive:
        log.info("--disable-destructive: destructive tools are not registered")
    services = build_services(settings, registry)
    health = None
    if settings.health_port is not None:
        from k8s_multicluster_mcp import health as health_port

        try:
            sock = health_port.listen(settings.host, settings.health_port)
        except OSError as exc:
            return _fail(
                f"--health-port {settings.health_port}: cannot listen on {settings.host or '*'}: "
                f"{exc.strerror or exc}; give a free port (1-65535) or leave the flag out"
            )
        health = health_port.build(sock, registry, services)
    from k8s_multicluster_mcp import oidc

    server = build_server(
        settings,
        services,
        on_call=health.metrics.tool_called if health else None,
        auth=oidc.from_settings(settings, tokens),
    )
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if settings.transport == "http":
            from k8s_multicluster_mcp import http_transport

            http_transport.serve(
                server, settings, contexts=len(registry.inventory().contexts),
                wrap=functools.partial(health.metrics.counted, server="mcp") if health else None,
                alongside=health.alongside if health else None,
                on_stop=health.stop if health else None, tokens=tokens,
            )  # fmt: skip
        else:
            import anyio

            from k8s_multicluster_mcp import stdio_transport

            if health is not None:
                anyio.run(health.alongside, stdio_transport.serve(server))
            else:
                anyio.run(stdio_transport.serve, server)
    except KeyboardInterrupt:
        pass
    except BaseException as error:
        if not _only_interrupts(error):
            raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutdown(services)
        _exit_promptly(0)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    """SIGINT and SIGTERM: stop serving now.

    Raised straight in the main thread; asyncio's own SIGINT handling would instead cancel the
    server's task and wait for it, and that task waits on a thread blocked reading stdin. The
    watchdog ends the process if the stop itself gets stuck.
    """
    _start_watchdog()
    raise KeyboardInterrupt


STOP_WATCHDOG = 1.8
"""Seconds from the stop signal to a forced exit. A stop normally ends within about a second
(`_exit_promptly`); but the hardening test's server, with a hung credential plugin, did not
end within 30 s of SIGTERM once in CI and twice in 9 local runs on a busy machine (cause not
found: not in 55 runs of the same steps on a quiet one). So the process ends
anyway, its credential plugins killed, and says which threads were still running, for whoever
finds the cause. Under HTTP, uvicorn takes the signal first and drains (--shutdown-grace);
this handler runs after that."""


def _start_watchdog() -> None:
    timer = threading.Timer(STOP_WATCHDOG, _force_exit)
    timer.daemon = True
    timer.start()


def _force_exit() -> None:
    """The stop took longer than `STOP_WATCHDOG`: show where every thread is, kill the credential
    plugins (no child may outlive the server), end with status 0 as a normal stop does."""
    import faulthandler

    from k8s_multicluster_mcp.kube import execplugin

    sys.stderr.write(
        f"k8s-multicluster-mcp: still running {STOP_WATCHDOG:g} s after the stop signal; ending now\n"
    )
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    execplugin.kill_all()
    sys.stderr.flush()
    os._exit(0)


def _only_interrupts(error: BaseException) -> bool:
    """A stop, possibly wrapped: uvicorn re-raises the SIGTERM it caught once it has drained, and
    with the health port beside it `_interrupt`'s KeyboardInterrupt leaves an anyio task group as
    an exception group holding only it (`BaseExceptionGroup`; duck-typed for Python 3.10)."""
    inner = getattr(error, "exceptions", None)
    if inner is None:
        return isinstance(error, KeyboardInterrupt)
    return bool(inner) and all(_only_interrupts(each) for each in inner)


def _exit_promptly(code: int) -> None:
    """Make sure the process ends within about a second of being told to.

    Every call into a cluster has a deadline and shutdown cuts them all, so the worker threads
    end at once; a thread stuck where no deadline reaches (a DNS lookup, a TLS handshake) would
    still hold the interpreter's exit. Such a process is ended here after `EXIT_GRACE` seconds.
    """
    from k8s_multicluster_mcp.kube import deadlines, execplugin

    deadlines.cancel_all()
    execplugin.kill_all()
    end = time.monotonic() + EXIT_GRACE
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, end - time.monotonic()))
    stuck = [
        t.name
        for t in threading.enumerate()
        if t.is_alive() and not t.daemon and t is not threading.current_thread()
    ]
    if stuck:
        log.info("exiting with %d thread(s) still waiting on a cluster: %s", len(stuck), ", ".join(stuck))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
