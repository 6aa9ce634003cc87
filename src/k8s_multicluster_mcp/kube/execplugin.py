"""Exec credential plugins (`aws eks get-token`, `gke-gcloud-auth-plugin`, `kubelogin`), bounded.

The kubernetes client runs a plugin with no timeout, lets it inherit stdin (in stdio mode that is
the MCP protocol stream) and has no way to stop it: one plugin that hangs holds a worker thread
forever and outlives the server. Here a plugin reads /dev/null, runs in a process group of its own
and gets the time left on the calling thread's deadline (`deadlines.current()`); when that passes,
or at shutdown (`kill_all`), the whole group is killed, children included.

The client looks the provider class up in `kubernetes.config.kube_config` each time it loads
credentials (first use and every token renewal); `install()` points that name at ours.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess  # nosec B404
import sys
import threading
from typing import Any

from k8s_multicluster_mcp.kube import deadlines

DEFAULT_TIMEOUT = 30.0
"""Seconds a plugin may run when no deadline is in force (none should be: a safety net)."""
_STDERR_LIMIT = 500

_running: set[_Plugin] = set()
_running_lock = threading.Lock()


class _Plugin:
    """One running plugin process and its process group."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def kill_group(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            if sys.platform == "win32":  # pragma: no cover - no process groups to signal
                self.process.kill()
            else:
                os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@functools.cache
def provider_class() -> type[Any]:
    """`BoundedExecProvider`, built on first use: importing the kubernetes client costs half a
    second, which the server does not pay before it has answered `initialize`."""
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.exec_provider import ExecProvider

    class BoundedExecProvider(ExecProvider):
        """`ExecProvider` whose `run` is bounded by the caller's deadline and killable at shutdown."""

        def run(self, previous_response: Any = None) -> Any:
            spec: dict[str, Any] = {"interactive": False}
            if previous_response:
                spec["response"] = previous_response
            if self.cluster:
                cluster = dict(self.cluster.value)
                for extension in cluster.get("extensions") or ():
                    if extension.get("name") == "client.authentication.k8s.io/exec":
                        cluster["config"] = extension.get("extension")
                        break
                spec["cluster"] = cluster
            env = dict(self.env)
            env["KUBERNETES_EXEC_INFO"] = json.dumps(
                {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": spec}
            )
            current = deadlines.current()
            timeout = current.remaining() if current is not None else DEFAULT_TIMEOUT
            command = os.path.basename(str(self.args[0]))
            try:
                process = subprocess.Popen(
                    self.args,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    cwd=self.cwd,
                    env=env,
                    text=True,
                    # The client's own rule: a shell on Windows only, where plugins may be .cmd files.
                    shell=self.shell,  # nosec B602
                    start_new_session=sys.platform != "win32",
                )
            except OSError as exc:
                raise ConfigException(f"exec: cannot run {command}: {exc.strerror or exc}") from exc
            plugin = _Plugin(process)
            with _running_lock:
                _running.add(plugin)
            if current is not None:
                current.own_process(plugin)
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                plugin.kill_group()
                process.communicate()
                raise ConfigException(
                    f"exec: {command} did not finish within {timeout:.3g}s; killed"
                ) from None
            finally:
                if current is not None:
                    current.disown_process(plugin)
                with _running_lock:
                    _running.discard(plugin)
            if process.returncode != 0:
                if current is not None and current.expired:
                    raise ConfigException(f"exec: {command} did not finish within {timeout:.3g}s; killed")
                message = f"exec: process returned {process.returncode}"
                if stderr.strip():
                    message += f". {stderr.strip()[-_STDERR_LIMIT:]}"
                raise ConfigException(message)
            return _status(stdout, self.api_version)

    return BoundedExecProvider


def _status(stdout: str, api_version: str) -> Any:
    from kubernetes.config.config_exception import ConfigException

    try:
        data = json.loads(stdout)
    except ValueError as exc:
        raise ConfigException(f"exec: failed to decode process output: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigException("exec: the plugin's output is not an ExecCredential object")
    for key in ("apiVersion", "kind", "status"):
        if key not in data:
            raise ConfigException(f"exec: malformed response. missing key '{key}'")
    if data["apiVersion"] != api_version:
        raise ConfigException(f"exec: plugin api version {data['apiVersion']} does not match {api_version}")
    return data["status"]


def kill_all() -> None:
    """Kill every plugin still running (shutdown): none may outlive the server."""
    with _running_lock:
        plugins = list(_running)
    for plugin in plugins:
        plugin.kill_group()


def install() -> None:
    """Make the kubernetes client run exec plugins through `BoundedExecProvider` (idempotent)."""
    from kubernetes.config import kube_config

    setattr(kube_config, "ExecProvider", provider_class())  # noqa: B010 - a name mypy cannot see


__all__ = ["install", "kill_all", "provider_class"]
