"""Kubernetes label selectors: parsed and checked before any cluster is asked.

Parsing locally gives the same clear error in both modes (the watch cache must match selectors
itself; the live source passes the canonical string to the API server).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from k8s_multicluster_mcp.errors import InvalidSelectorError

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_KEY_RE = re.compile(rf"^({_PREFIX}/)?{_NAME}$")
_VALUE_RE = re.compile(rf"^({_NAME})?$")
_TOKEN_RE = re.compile(r"\s*(==|!=|=|!|\(|\)|,|<|>|[^\s=!(),<>]+)")
_SYNTAX = "e.g. 'app=web', 'tier!=db', 'env in (prod,staging)', 'release', '!canary'"


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
    return InvalidSelectorError(f"invalid label selector {selector!r}: {why}; valid forms: {_SYNTAX}")


def _tokens(selector: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(selector):
        if selector[pos:].isspace():
            break
        match = _TOKEN_RE.match(selector, pos)
        if match is None:  # pragma: no cover - the pattern accepts any non-space character
            raise _fail(selector, f"unexpected character at {pos}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _check_key(selector: str, key: str) -> str:
    if not _KEY_RE.match(key) or len(key.split("/")[0]) > 253:
        raise _fail(selector, f"{key!r} is not a valid label key")
    return key


def _check_value(selector: str, value: str) -> str:
    if not _VALUE_RE.match(value):
        raise _fail(
            selector,
            f"{value!r} is not a valid label value (63 characters at most: letters, digits, '-', '_', '.')",
        )
    return value


def parse_selector(selector: str | None) -> LabelSelector | None:
    """Parse a label selector; `None` or blank means "everything"."""
    if selector is None or not selector.strip():
        return None
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
                    raise _fail(selector, f"'{op}' needs an integer, got {bound!r}")
                requirements.append(Requirement(key, "gt" if op == ">" else "lt", (bound,)))
            else:
                raise _fail(selector, f"unexpected {op!r} after {key!r}")
        if i < len(tokens):
            if tokens[i] != ",":
                raise _fail(selector, f"expected ',' before {tokens[i]!r}")
            i += 1
            if i >= len(tokens):
                raise _fail(selector, "it ends with ','")
    return LabelSelector(tuple(requirements))
