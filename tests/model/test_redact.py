"""Secret values, last-applied annotations and sensitive env literals never leave `Redactor.clean`
(unless the operator allowed secret values); managedFields go; long values are clipped."""

from __future__ import annotations

import base64
import json

from k8s_multicluster_mcp.model.redact import FIELD_LIMIT, LAST_APPLIED, MASKED, Redactor

CANARY = "canary-9f8e7d"


def secret(**extra: object) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "managedFields": [{"manager": "kubectl"}],
                     "annotations": {LAST_APPLIED: json.dumps({"data": {"p": CANARY}}), "team": "shop"}},
        "data": {"password": base64.b64encode(CANARY.encode()).decode(), "empty": ""},
        "stringData": {"token": CANARY},
        **extra,
    }  # fmt: skip


def test_secret_values_become_their_decoded_size_and_keys_stay() -> None:
    cleaned = Redactor().clean(secret())
    assert cleaned["data"] == {"password": f"<redacted: {len(CANARY)} bytes>", "empty": "<redacted: 0 bytes>"}
    assert cleaned["stringData"] == {"token": f"<redacted: {len(CANARY)} bytes>"}
    assert cleaned["metadata"] == {"name": "db", "annotations": {"team": "shop"}}
    assert CANARY not in json.dumps(cleaned)


def test_a_list_item_without_kind_is_redacted_when_the_caller_says_it_is_a_secret() -> None:
    item = {"metadata": {"name": "db"}, "data": {"password": base64.b64encode(CANARY.encode()).decode()}}
    assert CANARY not in json.dumps(Redactor().clean(item, secret=True))


def test_a_secret_embedded_anywhere_is_redacted() -> None:
    custom = {"kind": "Vault", "spec": {"templates": [secret()]}}
    assert CANARY not in json.dumps(Redactor().clean(custom))


def test_sensitive_env_literals_are_masked_in_any_pod_spec() -> None:
    env = [{"name": "DB_PASSWORD", "value": CANARY}, {"name": "github_token", "value": CANARY},
           {"name": "AWS_SECRET_ACCESS_KEY", "value": CANARY}, {"name": "MODE", "value": "fast"},
           {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]  # fmt: skip
    deployment = {
        "kind": "Deployment",
        "spec": {"template": {"spec": {"initContainers": [{"env": env}], "containers": [{"env": env}]}}},
    }
    cleaned = Redactor().clean(deployment)
    for container in ("initContainers", "containers"):
        values = [e.get("value") for e in cleaned["spec"]["template"]["spec"][container][0]["env"]]
        assert values == [MASKED, MASKED, MASKED, "fast", None]
    assert CANARY not in json.dumps(cleaned)


def test_the_env_pattern_is_configurable() -> None:
    env = {
        "spec": {
            "containers": [{"env": [{"name": "LICENSE", "value": "x"}, {"name": "PASSWORD", "value": "y"}]}]
        }
    }
    values = [
        e["value"] for e in Redactor(sensitive_env="licen[sc]e").clean(env)["spec"]["containers"][0]["env"]
    ]
    assert values == [MASKED, "y"]


def test_allow_secret_values_keeps_values_but_not_the_annotation() -> None:
    redactor = Redactor(allow_secret_values=True)
    cleaned = redactor.clean(secret())
    assert cleaned["stringData"] == {"token": CANARY}
    assert LAST_APPLIED not in cleaned["metadata"]["annotations"]
    assert redactor.env_value("DB_PASSWORD", CANARY) == CANARY


def test_long_values_are_clipped_with_their_length() -> None:
    cleaned = Redactor().clean({"kind": "ConfigMap", "data": {"big": "x" * 10_000, "small": "ok"}})
    assert cleaned["data"]["small"] == "ok"
    assert cleaned["data"]["big"] == "x" * FIELD_LIMIT + "… (10000 characters)"


def test_the_input_is_not_modified() -> None:
    original = secret()
    before = json.dumps(original, sort_keys=True)
    Redactor().clean(original)
    assert json.dumps(original, sort_keys=True) == before
