"""Raw calls into an API server: the list/watch call per cached kind, shared by the live source
and the watch reflectors, and a GET of any path (discovery, any kind, logs, metrics).

All read raw JSON (`_preload_content=False`, decoded with orjson) rather than the client's model
classes: several times faster, and the records are built from the same dicts either way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from k8s_multicluster_mcp.kube import impersonation
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import Raw

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


def list_call(client: ApiClient, kind: Kind, namespace: str | None = None) -> Callable[..., Any]:
    """The client method that lists (or, with `watch=True`, watches) `kind`, cluster-wide or in
    one namespace; keyword arguments are the API's list options."""
    from kubernetes.client import AppsV1Api, CoreV1Api

    core, apps = CoreV1Api(client), AppsV1Api(client)
    calls: dict[Kind, tuple[Callable[..., Any], Callable[..., Any] | None]] = {
        Kind.POD: (core.list_pod_for_all_namespaces, core.list_namespaced_pod),
        Kind.DEPLOYMENT: (apps.list_deployment_for_all_namespaces, apps.list_namespaced_deployment),
        Kind.NODE: (core.list_node, None),
        Kind.NAMESPACE: (core.list_namespace, None),
        Kind.EVENT: (core.list_event_for_all_namespaces, core.list_namespaced_event),
    }
    cluster_wide, namespaced = calls[kind]
    return functools.partial(namespaced, namespace) if namespace and namespaced else cluster_wide


Query = Mapping[str, str | int | bool | None]


def request(
    client: ApiClient,
    method: str,
    path: str,
    query: Query | None = None,
    *,
    body: Any = None,
    content_type: str | None = None,
    accept: str = "application/json",
    timeout: float,
) -> bytes:
    """The response body of `METHOD path?query` (with the context's credentials; `body` is sent
    as JSON); a status other than 2xx raises the client's `ApiException`, which
    `apierrors.classify` explains. Uses the client's `param_serialize`/`call_api` pair
    (kubernetes >= 37; older clients have another API)."""
    from kubernetes.client.exceptions import ApiException

    params = [
        (k, str(v).lower() if isinstance(v, bool) else str(v))
        for k, v in (query or {}).items()
        if v is not None
    ]
    headers = {"Accept": accept} | ({"Content-Type": content_type} if content_type else {})
    serialized = client.param_serialize(
        method, path, query_params=params, header_params=headers, body=body, auth_settings=["BearerToken"]
    )
    response = client.call_api(*serialized, _request_timeout=(timeout, timeout))
    data: bytes = response.read()
    if not 200 <= response.status <= 299:
        raise ApiException(
            status=response.status,
            reason=response.reason,
            http_resp=response,
            body=data.decode("utf-8", "replace"),
        )
    return data


def get(
    client: ApiClient,
    path: str,
    query: Query | None = None,
    *,
    accept: str = "application/json",
    timeout: float,
) -> bytes:
    """The body of `GET path?query` (see `request`)."""
    return request(client, "GET", path, query, accept=accept, timeout=timeout)


def call_json(
    client: ApiClient,
    method: str,
    path: str,
    query: Query | None = None,
    *,
    body: Any = None,
    content_type: str | None = None,
    timeout: float,
) -> Raw:
    """`request`, decoded."""
    decoded = orjson.loads(
        request(client, method, path, query, body=body, content_type=content_type, timeout=timeout) or b"{}"
    )
    return decoded if isinstance(decoded, dict) else {}


def exec_session(
    client: ApiClient, namespace: str, pod: str, container: str, argv: list[str], *, timeout: float
) -> Any:
    """An open exec websocket (the client's WSClient: stdout, stderr and the status channel) of
    `argv` in a container, without stdin or a TTY; `timeout` bounds the connection.

    The request is serialized by the client and the socket opened here, not through
    `kubernetes.stream.stream`: that swaps `call_api` on the client for the call's duration, and
    the client is shared by every thread using the context. The handshake acts as the caller
    (`impersonation.install_websocket`)."""
    from kubernetes.stream.ws_client import WSClient, get_websocket_url

    impersonation.install_websocket()
    flags = {"container": container, "stderr": "true", "stdout": "true", "stdin": "false", "tty": "false"}
    params = [("command", arg) for arg in argv] + list(flags.items())
    _, url, headers, _, _ = client.param_serialize(
        "GET",
        "/api/v1/namespaces/{namespace}/pods/{name}/exec",
        path_params={"namespace": namespace, "name": pod},
        query_params=params,
        auth_settings=["BearerToken"],
    )
    try:
        return WSClient(client.configuration, get_websocket_url(url), headers, capture_all=True)
    except Exception as exc:
        from kubernetes.client.exceptions import ApiException

        # A refused handshake keeps its status and Status body (a 403 is worded like any other).
        error = ApiException(status=getattr(exc, "status_code", 0) or 0, reason=str(exc))
        body = getattr(exc, "resp_body", None)
        error.body = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        raise error from exc


def find_json(client: ApiClient, path: str, *, timeout: float) -> Raw | None:
    """The object at `path`, or None when the API server says it does not exist (404)."""
    try:
        return get_json(client, path, timeout=timeout)
    except Exception as exc:
        if getattr(exc, "status", None) == 404:
            return None
        raise


def get_json(
    client: ApiClient,
    path: str,
    query: Query | None = None,
    *,
    accept: str = "application/json",
    timeout: float,
) -> Raw:
    """`get`, decoded."""
    decoded = orjson.loads(get(client, path, query, accept=accept, timeout=timeout))
    return decoded if isinstance(decoded, dict) else {}


__all__ = ["Query", "call_json", "exec_session", "find_json", "get", "get_json", "list_call", "request"]
