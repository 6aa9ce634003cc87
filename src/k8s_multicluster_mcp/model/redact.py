"""What of an object may reach the model: secret values never do, unless the operator said so.

Every object any tool shows whole (get, describe, YAML/JSON, events, secret and configmap details)
passes through `Redactor.clean`, one place for every path:

- a Secret's `data`/`stringData` values (in the object itself, or a Secret embedded anywhere in
  another object) become a marker with the value's decoded size; keys stay;
- the `kubectl.kubernetes.io/last-applied-configuration` annotation is removed from every object
  (after `kubectl apply` of a Secret it holds the Secret's data);
- literal `env` values whose names look sensitive (PASSWORD, TOKEN, SECRET, KEY, ...) are masked,
  in pods, templates of any workload, CRDs alike;
- `managedFields` are dropped (noise), and strings longer than `FIELD_LIMIT` are clipped (a
  ConfigMap's values are shown, but not a 1 MB one).

`--allow-secret-values` (an operator flag; no tool argument can set it) keeps secret and env
values; the annotation, managedFields and clipping rules still apply.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from k8s_multicluster_mcp.model.records import Raw

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEFAULT_SENSITIVE_ENV = (
    r"pass|secret|token|key|credential|auth|private|cert|session|cookie|signature|salt|dsn|api_?id"
)
"""Environment variable names matching this (case-insensitive search) have their literal values
masked; `--sensitive-env-pattern` replaces it."""
FIELD_LIMIT = 2000
"""Longest string shown of any one field (configmap values, annotations, messages)."""
MASKED = "<masked: name looks sensitive>"


def secret_marker(size: int) -> str:
    return f"<redacted: {size} bytes>"


def decoded_size(value: object) -> int:
    """Bytes a Secret's base64 `data` value decodes to (its length when it is not base64)."""
    if not isinstance(value, str):
        return 0
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return len(value.encode())


class Redactor:
    """Cleans objects for the model (see the module docstring)."""

    def __init__(
        self, *, allow_secret_values: bool = False, sensitive_env: str = DEFAULT_SENSITIVE_ENV
    ) -> None:
        self.allow_secret_values = allow_secret_values
        self.sensitive_env = re.compile(sensitive_env, re.IGNORECASE)

    def clean(self, obj: Raw, *, secret: bool = False) -> dict[str, Any]:
        """A cleaned copy of `obj`; `secret`: it is a Secret even if it does not say so (list
        items carry no `kind`)."""
        cleaned = self._walk(obj, None)
        if secret and isinstance(cleaned, dict):
            self._redact_secret(cleaned, obj)
        return cleaned if isinstance(cleaned, dict) else {}

    def env_value(self, name: str, value: str) -> str:
        """`value` of the environment variable `name`, or the mask."""
        if self.allow_secret_values or not self.sensitive_env.search(name):
            return value
        return MASKED

    def _walk(self, value: Any, key: str | None) -> Any:
        if isinstance(value, str):
            return value if len(value) <= FIELD_LIMIT else f"{value[:FIELD_LIMIT]}… ({len(value)} characters)"
        if isinstance(value, list):
            if key == "env":
                return [self._env_entry(item) for item in value]
            return [self._walk(item, None) for item in value]
        if not isinstance(value, Mapping):
            return value
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k == "managedFields":
                continue
            if k == "annotations" and isinstance(v, Mapping):
                kept = {a: self._walk(t, a) for a, t in v.items() if a != LAST_APPLIED}
                if kept:
                    out[k] = kept
                continue
            out[k] = self._walk(v, k)
        if value.get("kind") == "Secret" and value.get("apiVersion") == "v1":
            self._redact_secret(out, value)
        return out

    def _env_entry(self, item: Any) -> Any:
        if isinstance(item, Mapping) and isinstance(item.get("value"), str):
            entry = dict(self._walk(item, None))
            entry["value"] = self.env_value(str(item.get("name") or ""), str(item["value"]))
            return entry
        return self._walk(item, None)

    def _redact_secret(self, out: dict[str, Any], original: Mapping[str, Any]) -> None:
        if self.allow_secret_values:
            return
        for field, size in (("data", decoded_size), ("stringData", lambda v: len(str(v).encode()))):
            values = original.get(field)
            if isinstance(values, Mapping):
                out[field] = {k: secret_marker(size(v)) for k, v in values.items()}
