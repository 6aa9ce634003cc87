"""How transport and API failures are named (pure classification, exceptions built by hand)."""

from __future__ import annotations

import json

import urllib3
import urllib3.exceptions as u3
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from k8s_multicluster_mcp.common.caller import Caller
from k8s_multicluster_mcp.kube.apierrors import classify, forbidden_for
from k8s_multicluster_mcp.kube.impersonation import acting_as


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


def test_a_forbidden_answer_to_an_impersonated_request_names_the_caller() -> None:
    denied = (
        'secrets is forbidden: User "alice@example.com" cannot list resource "secrets" in API group "" '
        'in the namespace "prod"'
    )
    with acting_as(Caller(sub="1", user="alice@example.com")):
        message = classify(api_error(403, denied)).message
    assert message == "forbidden for alice@example.com: cannot list secrets in namespace prod"
    with acting_as(Caller(sub="operator")):
        assert classify(api_error(403, denied)).message.startswith('User "alice@example.com" cannot list')


def test_forbidden_for_words_rbacs_sentences_and_keeps_any_other_reason() -> None:
    assert (
        forbidden_for(
            "bob", 'User "bob" cannot patch resource "deployments" in API group "apps" in the namespace "a"'
        )
        == "forbidden for bob: cannot patch deployments.apps in namespace a"
    )
    assert (
        forbidden_for("bob", 'User "bob" cannot list resource "nodes" in API group "" at the cluster scope')
        == "forbidden for bob: cannot list nodes at the cluster scope"
    )
    assert (
        forbidden_for(
            "bob", 'User "bob" cannot create resource "pods/exec" in API group "" in the namespace "a"'
        )
        == "forbidden for bob: cannot create pods/exec in namespace a"
    )
    assert (
        forbidden_for("bob", "admission webhook denied it")
        == "forbidden for bob: admission webhook denied it"
    )


def test_a_refused_impersonation_is_the_servers_identity_lacking_the_right_not_the_caller() -> None:
    plain = 'User "mcp" cannot impersonate resource "users" in API group "" at the cluster scope'
    constrained = 'User "mcp" cannot impersonate-on:user-info:list resource "configmaps" in API group ""'
    for reason in (plain, constrained):
        assert forbidden_for("bob", reason) == (
            f"the server's identity may not act as bob (it needs impersonate on users and groups): {reason}"
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
