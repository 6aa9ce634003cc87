"""Kubernetes label selectors: parsed and checked before any cluster is asked.

Parsing locally gives the same clear error in both modes (the watch cache must match selectors
itself; the live source passes the canonical string to the API server).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from k8s_multicluster_mcp.common.errors import InvalidSelectorError
from k8s_multicluster_mcp.common.text import shown

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_KEY_RE = re.compile(rf"^({_PREFIX}/)?{_NAME}$")
_VALUE_RE = re.compile(rf"^({_NAME})?$")
_TOKEN_RE = re.compile(r"\s*(==|!=|=|!|\(|\)|,|<|>|[^\s=!(),<>]+)")
_SYNTAX = "e.g. 'app=web', 'tier!=db', 'env in (prod,staging)', 'release', '!canary'"
MAX_LENGTH = 4096
"""Longest selector accepted; real ones are a few dozen characters."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str
    """One of `=`, `!=`, `in`, `notin`, `exists`, `!`, `gt`, `lt`."""
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            actual, bound = int(str(value)), int(self.values[0])
        except ValueError:
            return False
        return actual > bound if self.op == "gt" else actual < bound

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return f"!{self.key}"
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(self.values)})"
        symbol = {"gt": ">", "lt": "<"}.get(self.op, self.op)
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _fail(selector: str, why: str) -> InvalidSelectorError:
    return InvalidSelectorError(f"invalid label selector {shown(selector)}: {why}; valid forms: {_SYNTAX}")


def _tokens(selector: str) -> list[str]:
    """Split into operators, parentheses, commas and words (one linear pass)."""
    return _TOKEN_RE.findall(selector)


def _check_key(selector: str, key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if len(prefix) > 253 or len(name) > 63 or not _KEY_RE.match(key):
        raise _fail(selector, f"{shown(key)} is not a valid label key")
    return key


def _check_value(selector: str, value: str) -> str:
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise _fail(
            selector,
            f"{shown(value)} is not a valid label value "
            "(63 characters at most: letters, digits, '-', '_', '.')",
        )
    return value


def parse_selector(selector: str | None) -> LabelSelector | None:
    """Parse a label selector; `None` or blank means "everything"."""
    if selector is None or not selector.strip():
        return None
    if len(selector) > MAX_LENGTH:
        raise InvalidSelectorError(
            f"label selector too long ({len(selector)} characters; at most {MAX_LENGTH}); "
            f"valid forms: {_SYNTAX}"
        )
    tokens = _tokens(selector)
    requirements: list[Requirement] = []
    i = 0

    def take() -> str:
        nonlocal i
        if i >= len(tokens):
            raise _fail(selector, "it ends too early")
        i += 1
        return tokens[i - 1]

    while i < len(tokens):
        word = take()
        if word == "!":
            requirements.append(Requirement(_check_key(selector, take()), "!"))
        else:
            key = _check_key(selector, word)
            op = tokens[i] if i < len(tokens) else ","
            if op == ",":
                requirements.append(Requirement(key, "exists"))
            elif op in ("=", "==", "!="):
                i += 1
                value = tokens[i] if i < len(tokens) and tokens[i] != "," else ""
                if value:
                    i += 1
                requirements.append(
                    Requirement(key, "!=" if op == "!=" else "=", (_check_value(selector, value),))
                )
            elif op in ("in", "notin"):
                i += 1
                if take() != "(":
                    raise _fail(selector, f"'{op}' needs a parenthesised list")
                values: list[str] = []
                while True:
                    item = take()
                    if item == ")":
                        break
                    if item == ",":
                        continue
                    values.append(_check_value(selector, item))
                if not values:
                    raise _fail(selector, f"'{op} ()' needs at least one value")
                requirements.append(Requirement(key, op, tuple(values)))
            elif op in ("<", ">"):
                i += 1
                bound = take()
                if not bound.lstrip("-").isdigit():
                    raise _fail(selector, f"'{op}' needs an integer, got {shown(bound)}")
                requirements.append(Requirement(key, "gt" if op == ">" else "lt", (bound,)))
            else:
                raise _fail(selector, f"unexpected {shown(op)} after {shown(key)}")
        if i < len(tokens):
            if tokens[i] != ",":
                raise _fail(selector, f"expected ',' before {shown(tokens[i])}")
            i += 1
            if i >= len(tokens):
                raise _fail(selector, "it ends with ','")
    return LabelSelector(tuple(requirements))
