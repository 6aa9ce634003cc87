"""A permission in kubectl's words (`verb resource[.group]`, `get /version`): what a tool needs
from a cluster's RBAC (the table is `tools.permissions`), and what `check` reviews per context."""

from __future__ import annotations

from dataclasses import dataclass

KIND = "<kind asked>"
"""Stands for the kind a call names: what a tool needs on it cannot be reviewed ahead."""


@dataclass(frozen=True)
class Need:
    """One permission: `verb` on `resource` (plural, `pods/log` for a subresource) of `group`, or
    on a non-resource URL (`/version`)."""

    verb: str
    resource: str
    group: str = ""

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}{'.' + self.group if self.group else ''}"

    @property
    def checkable(self) -> bool:
        """Whether an access review can answer it ahead (not a kind the call will name)."""
        return self.resource != KIND and not self.resource.startswith(f"{KIND}/")

    @property
    def url(self) -> bool:
        return self.resource.startswith("/")


def parse(*words: str) -> tuple[Need, ...]:
    """`"list pods"`, `"list deployments.apps"`, `"create pods/eviction"` as `Need`s."""
    out = []
    for word in words:
        verb, _, target = word.partition(" ")
        if target.startswith(("/", "<")):
            out.append(Need(verb, target))
            continue
        resource, _, group = target.partition(".")
        out.append(Need(verb, resource, group))
    return tuple(out)


__all__ = ["KIND", "Need", "parse"]
