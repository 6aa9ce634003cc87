"""How transport and API failures are named (pure classification, exceptions built by hand)."""

from __future__ import annotations

import json

import urllib3
import urllib3.exceptions as u3
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from k8s_multicluster_mcp.kube.apierrors import classify


def api_error(status: int, message: str = "") -> ApiException:
    exc = ApiException(status=status, reason="Reason")
    exc.body = json.dumps({"kind": "Status", "message": message}) if message else None
    return exc


def test_http_statuses() -> None:
    assert classify(api_error(401)).status == "auth-error"
    assert "expired or invalid" in classify(api_error(401)).message
    assert (
        classify(api_error(401), ["exec: aws not found"]).message == "exec plugin failed: exec: aws not found"
    )
    forbidden = classify(api_error(403, 'nodes is forbidden: User "viewer" cannot list resource "nodes"'))
    assert (forbidden.status, forbidden.message) == (
        "forbidden",
        'User "viewer" cannot list resource "nodes"',
    )
    assert classify(api_error(504)).status == "timeout"
    assert (
        classify(api_error(500, "etcdserver: leader changed")).message
        == "HTTP 500: etcdserver: leader changed"
    )


def test_transport_failures() -> None:
    pool = urllib3.HTTPSConnectionPool("127.0.0.1", 1)
    refused = u3.MaxRetryError(
        pool,
        "/",
        u3.NewConnectionError(pool, "Failed to establish a new connection: [Errno 111] Connection refused"),
    )
    assert (classify(refused).status, classify(refused).message) == ("unreachable", "connection refused")
    timeout = u3.MaxRetryError(pool, "/", u3.ConnectTimeoutError(pool, "timed out"))
    assert (classify(timeout).status, classify(timeout).message) == ("timeout", "timed out (connect)")
    read = u3.ReadTimeoutError(pool, "/", "Read timed out.")
    assert classify(read).message == "timed out (read)"
    dns = u3.MaxRetryError(pool, "/", u3.NameResolutionError("nowhere.invalid", pool, OSError("no")))
    assert classify(dns).message == "DNS lookup failed for the API server host"
    tls = u3.MaxRetryError(pool, "/", u3.SSLError("certificate verify failed"))
    assert classify(tls).message.startswith("TLS handshake failed")


def test_config_errors_are_auth_errors() -> None:
    assert classify(ConfigException("Invalid kube-config file")).status == "auth-error"
