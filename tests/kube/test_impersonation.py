"""Impersonation headers: built from the caller, sent repeated (never comma-joined) on the wire by
the real kubernetes client and in the exec websocket's handshake, and carried into the threads
that make the calls (the fanout's workers) but never into a watch or a list of the cached kinds.

The wire tests talk to a socket that records the request it receives: what is checked is what the
kubernetes client and urllib3 put on the wire, not what a mocked client was asked to do."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from k8s_multicluster_mcp.common import caller
from k8s_multicluster_mcp.common.caller import Caller
from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.kube import api, impersonation
from k8s_multicluster_mcp.kube.apierrors import ApiException, classify
from k8s_multicluster_mcp.kube.client import new_client
from k8s_multicluster_mcp.kube.fanout import Fanout
from k8s_multicluster_mcp.model.contexts import ContextInfo

ALICE = Caller(
    sub="id-1", email="alice@example.com", groups=("oidc:team-a", "oidc:a,b"), user="alice@example.com"
)


def test_a_caller_with_a_kubernetes_user_is_one_user_header_and_one_group_header_per_group() -> None:
    assert impersonation.headers(ALICE) == [
        ("Impersonate-User", "alice@example.com"),
        ("Impersonate-Group", "oidc:team-a"),
        ("Impersonate-Group", "oidc:a,b"),
    ]
    assert impersonation.headers(Caller(sub="x", user="bob")) == [("Impersonate-User", "bob")]


def test_nobody_or_the_operators_token_acts_as_the_server() -> None:
    assert impersonation.headers(None) == []
    assert impersonation.headers(Caller(sub="operator", groups=("g",))) == []
    with impersonation.acting_as(Caller(sub="operator")):
        params = {"Accept": "application/json"}
        assert impersonation.with_caller(params) is params, "without a Kubernetes user nothing changes"


@pytest.mark.parametrize("bad", ["al\r\nX-Evil: 1", " alice", "jürgen", ""])
def test_a_name_that_cannot_be_sent_as_written_is_refused_in_one_line(bad: str) -> None:
    with pytest.raises(UserError, match=r"^cannot act as user name .*printable ASCII"):
        impersonation.headers(Caller(sub="x", user=bad))
    with pytest.raises(UserError, match=r"^cannot act as group "):
        impersonation.headers(Caller(sub="x", user="alice", groups=(bad,)))


def test_with_caller_adds_the_headers_and_replaces_any_already_there() -> None:
    with impersonation.acting_as(ALICE):
        out: Any = impersonation.with_caller({"Accept": "a", "Impersonate-User": "root"})
    assert out["Accept"] == "a"
    assert out.getlist("Impersonate-User") == ["alice@example.com"]
    assert out.getlist("Impersonate-Group") == ["oidc:team-a", "oidc:a,b"]


class Recorder:
    """A socket that answers each connection once (`reply`) and keeps the request's head."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.heads: list[str] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.server.accept()
                with conn:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    self.heads.append(data.decode("latin-1"))
                    conn.sendall(self.reply)

    def lines(self, name: str) -> list[str]:
        """The values of every `name` header line of the last request."""
        prefix = name.lower() + ":"
        return [
            line.split(":", 1)[1].strip()
            for line in self.heads[-1].split("\r\n")
            if line.lower().startswith(prefix)
        ]

    def close(self) -> None:
        self.server.close()


def client_for(port: int) -> Any:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "server-token-0123456789"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }  # fmt: skip
    ctx = ContextInfo("c", "c", Path("kubeconfig"), "c", f"http://127.0.0.1:{port}", "u", None, "token")
    return new_client(ctx, config)


@pytest.fixture
def http_ok() -> Iterator[Recorder]:
    # Connection: close, since the recorder answers each connection once: a client that kept the
    # connection for its next request raced the close and got a reset (seen once in a full run).
    recorder = Recorder(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    yield recorder
    recorder.close()


def test_every_request_of_the_client_carries_the_callers_headers_each_group_on_its_own_line(
    http_ok: Recorder,
) -> None:
    client = client_for(http_ok.port)
    with impersonation.acting_as(ALICE):
        api.get_json(client, "/api/v1/namespaces/a/secrets", timeout=5)
    assert http_ok.lines("Impersonate-User") == ["alice@example.com"]
    assert http_ok.lines("Impersonate-Group") == ["oidc:team-a", "oidc:a,b"], (
        "one line per group, never joined"
    )
    with impersonation.acting_as(ALICE):
        api.call_json(client, "POST", "/api/v1/namespaces", body={"metadata": {"name": "x"}}, timeout=5)
    assert http_ok.lines("Impersonate-User") == ["alice@example.com"], "writes too"
    api.get_json(client, "/api/v1/pods", timeout=5)
    assert http_ok.lines("Impersonate-User") == [] and http_ok.lines("Impersonate-Group") == []
    assert http_ok.lines("authorization") == ["Bearer server-token-0123456789"]


def test_the_exec_websocket_handshake_carries_them_too_and_its_403_names_the_caller() -> None:
    status = (
        b'{"kind":"Status","message":"pods \\"web-0\\" is forbidden: User \\"alice@example.com\\" cannot '
        b'create resource \\"pods/exec\\" in API group \\"\\" in the namespace \\"a\\""}'
    )
    forbidden = Recorder(
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(status), status)
    )
    try:
        client = client_for(forbidden.port)
        with impersonation.acting_as(ALICE), pytest.raises(ApiException) as refused:
            api.exec_session(client, "a", "web-0", "main", ["ls", "-l"], timeout=5)
        assert forbidden.lines("Impersonate-User") == ["alice@example.com"]
        assert forbidden.lines("Impersonate-Group") == ["oidc:team-a", "oidc:a,b"]
        assert forbidden.heads[-1].startswith(
            "GET /api/v1/namespaces/a/pods/web-0/exec?command=ls&command=-l&container=main&stderr=true"
        )
        with impersonation.acting_as(ALICE):
            error = classify(refused.value)
        assert (error.status, error.message) == (
            "forbidden",
            "forbidden for alice@example.com: cannot create pods/exec in namespace a",
        )
        with pytest.raises(ApiException):
            api.exec_session(client, "a", "web-0", "main", ["ls"], timeout=5)
        assert forbidden.lines("Impersonate-User") == [], "a websocket of the server's own sends none"
    finally:
        forbidden.close()


def ctx(name: str) -> ContextInfo:
    return ContextInfo(name, name, Path("kubeconfig"), name, "https://127.0.0.1:1", "u", None, "token")


def test_the_fanouts_workers_act_for_the_caller_who_asked_and_as_the_server_inside_as_server() -> None:
    fanout = Fanout(timeout=5, max_workers=2)
    try:
        with impersonation.acting_as(ALICE):
            seen = fanout.one(ctx("a"), lambda _: caller.acting(), budget=5, what="reading")
            with impersonation.as_server():
                cleared = fanout.one(ctx("a"), lambda _: caller.acting(), budget=5, what="listing")
            after = caller.acting()
        nobody = fanout.one(ctx("a"), lambda _: caller.acting(), budget=5, what="reading")
    finally:
        fanout.close()
    assert (seen, cleared, after, nobody) == (ALICE, None, ALICE, None)


def test_empty_context_runs_without_the_callers_identity() -> None:
    with impersonation.acting_as(ALICE):
        assert impersonation.empty_context(caller.acting)() is None
        assert caller.acting() == ALICE
