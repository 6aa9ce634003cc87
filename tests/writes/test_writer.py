"""The pure parts of writes: the diff of two objects, manifests, conflict messages."""

from __future__ import annotations

import json

import pytest

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.model.diff import FieldChange, diff, flatten
from k8s_multicluster_mcp.model.manifests import parse_manifests
from k8s_multicluster_mcp.writes.exec import _handshake
from k8s_multicluster_mcp.writes.writer import conflict_message


def test_flatten_names_list_items_by_name() -> None:
    obj = {"spec": {"containers": [{"name": "web", "image": "a"}], "ports": [80, 443], "empty": {}}}
    assert flatten(obj) == {
        "spec.containers[name=web].image": "a",
        "spec.containers[name=web].name": "web",
        "spec.ports[0]": 80,
        "spec.ports[1]": 443,
        "spec.empty": {},
    }


def test_diff_leaves_out_bookkeeping_and_emptied_maps() -> None:
    before = {"metadata": {"resourceVersion": "1", "generation": 1, "labels": {"a": "1"}},
              "spec": {"replicas": 2, "resources": {}}, "status": {"replicas": 2}}  # fmt: skip
    after = {"metadata": {"resourceVersion": "2", "generation": 2, "labels": {"a": "1", "b": "2"}},
             "spec": {"replicas": 3, "resources": {"limits": {"cpu": "1"}}}, "status": {"replicas": 3}}  # fmt: skip
    assert diff(before, after) == [
        FieldChange("metadata.labels.b", None, "2"),
        FieldChange("spec.replicas", 2, 3),
        FieldChange("spec.resources.limits.cpu", None, "1"),
    ]
    assert diff(after, after) == []


def test_manifests_several_documents_and_lists() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n---\n" \
           '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}}\n'  # fmt: skip
    assert [o["metadata"]["name"] for o in parse_manifests(text)] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1", "invalid YAML at line 1"),
        ("", "the manifest holds no object"),
        ("- 1\n", "document 1 is not an object"),
        ("apiVersion: v1\nkind: Pod\n", "document 1 has no metadata.name"),
    ],
)
def test_bad_manifests(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_manifests(text)


class _Conflict(Exception):
    def __init__(self, body: str) -> None:
        self.body = body


def test_conflicts_name_fields_and_managers() -> None:
    body = json.dumps({"message": "Apply failed with 1 conflict", "details": {"causes": [
        {"reason": "FieldManagerConflict", "message": 'conflict with "kubectl-edit" using apps/v1', "field": ".spec.replicas"}]}})  # fmt: skip
    assert conflict_message(_Conflict(body)) == (
        'apply conflicts with other field managers: .spec.replicas ("kubectl-edit"); pass force=true to take these fields'
    )


def test_exec_refusals_are_the_api_servers_message() -> None:
    class Refused(Exception):
        reason = 'Handshake status 400 Bad Request -+-+- {"a": 1} -+-+- {"kind":"Status","message":"pod p does not have a host assigned"}\n'

    assert _handshake(Refused()) == "pod p does not have a host assigned"


def test_writes_are_logged_whatever_the_log_level(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from k8s_multicluster_mcp.common import logs
    from k8s_multicluster_mcp.writes.writer import audit

    logs.configure("ERROR")
    audit.info("cp-1: k8s_scale_resource deployments.apps shop/web: configured")
    logging.getLogger("k8s_multicluster_mcp.query.state").info("not shown at ERROR")
    err = capsys.readouterr().err
    assert (
        "INFO k8s_multicluster_mcp.audit: cp-1: k8s_scale_resource deployments.apps shop/web: configured"
        in err
    )
    assert "not shown" not in err


def test_exec_exit_status_from_the_status_channel() -> None:
    from k8s_multicluster_mcp.writes.exec import exit_code

    assert exit_code('{"metadata":{},"status":"Success"}') == 0
    non_zero = {"status": "Failure", "reason": "NonZeroExitCode", "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
                "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}  # fmt: skip
    assert exit_code(json.dumps(non_zero)) == 3
    # What a real kubelet says for a binary that does not exist: text, not an exit code.
    missing = {"status": "Failure", "reason": "InternalError", "message": 'Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "1f": OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": executable file not found in $PATH: unknown',
               "details": {"causes": [{"message": 'error executing command in container: exec: "nope": executable file not found in $PATH'}]}}  # fmt: skip
    message = exit_code(json.dumps(missing))
    assert message == 'exec: "nope": executable file not found in $PATH', (
        "the runtime's reason, not its layers"
    )
    assert exit_code("") == "the connection closed without an exit status"


def test_exec_refusal_with_the_status_as_a_bytes_literal() -> None:
    class Refused(Exception):
        reason = ("Handshake status 400 Bad Request -+-+- {'content-type': 'application/json'} -+-+- "
                  "b'{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"container app is not valid for pod web\"}'")  # fmt: skip

    assert _handshake(Refused()) == "container app is not valid for pod web"


def test_a_kubelet_error_text_is_not_a_log() -> None:
    from k8s_multicluster_mcp.query.diagnostics import kubelet_failure

    said = "unable to retrieve container logs for containerd://4f2a…"
    assert kubelet_failure(said + "\n") == said
    assert kubelet_failure("2026-12-01 serving\nunable to retrieve container logs for x\n") is None
    assert kubelet_failure("hello\n") is None
