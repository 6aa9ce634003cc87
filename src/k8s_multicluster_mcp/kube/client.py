"""The kubernetes client: loaded once and lazily (its import takes half a second), one API client
per context built from its kubeconfig, and the client's own error logs captured per call."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from k8s_multicluster_mcp.common.errors import (
    ClusterAuthError,
    ClusterTimeoutError,
)
from k8s_multicluster_mcp.common.text import one_line
from k8s_multicluster_mcp.kube import deadlines, impersonation, noblock
from k8s_multicluster_mcp.model.contexts import ContextInfo

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, Configuration


log = logging.getLogger(__name__)


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


capture_client_errors = _client_errors.capture


logging.getLogger().addFilter(_client_errors)

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


def new_client(
    ctx: ContextInfo, config: dict[str, Any], configure: Callable[[Configuration], None] | None = None
) -> ApiClient:
    """An API client for `ctx` from its kubeconfig `config`; the kubernetes client loads here, on the
    first client, not when the server starts. Credentials that cannot be had are `ClusterAuthError`."""
    load_kubernetes()
    from kubernetes.client import Configuration
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
        raise ClusterAuthError(f"cannot load credentials from {ctx.file.name}: {one_line(str(exc))}") from exc
    running = deadlines.current()
    if ctx.auth.startswith("exec:") and running is not None and running.expired:
        raise ClusterTimeoutError(f"exec plugin ({ctx.auth[5:]}) did not finish in time; killed")
    if ctx.auth.startswith("exec:") and errors:
        raise ClusterAuthError(f"exec plugin failed ({ctx.auth[5:]}): {one_line(errors[-1])}")
    if errors:
        log.warning("context %s: %s", ctx.name, "; ".join(errors))
    configuration.retries = 0
    if configure is not None:
        configure(configuration)
    client: ApiClient = _client_class()(configuration=configuration)
    client.user_agent = "k8s-multicluster-mcp"
    deadlines.track_connections(client.rest_client.pool_manager)
    return client


@functools.cache
def _client_class() -> type[ApiClient]:
    """`ApiClient` whose every request acts as the caller of the thread sending it
    (`impersonation.with_caller`): generated API methods and raw requests alike pass through
    `call_api`. One client per context stays shared by every caller: the headers are per request."""
    from kubernetes.client import ApiClient

    class ImpersonatingApiClient(ApiClient):
        def call_api(
            self, method: str, url: str, header_params: Any = None, *args: Any, **kwargs: Any
        ) -> Any:
            noblock.check(f"{method} {url}")
            return super().call_api(method, url, impersonation.with_caller(header_params), *args, **kwargs)

    return ImpersonatingApiClient
