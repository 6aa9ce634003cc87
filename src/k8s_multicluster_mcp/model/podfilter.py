"""What a pod search asks of each pod (node, owner, phase), as data a source can use to answer
with fewer pods: the watch store from its indexes, the live source with field selectors.

A source may return more than matches; the query layer applies the same `PodFilter.matches` to
what it gets, so the answer is the same whichever source answered and however much it narrowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from k8s_multicluster_mcp.common.errors import InvalidNameError, UserError
from k8s_multicluster_mcp.common.names import check_name
from k8s_multicluster_mcp.common.text import shown
from k8s_multicluster_mcp.model import triage
from k8s_multicluster_mcp.model.records import PodRecord

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")


def owners_of(pod: PodRecord) -> tuple[tuple[str, str], ...]:
    """The controllers a pod answers to, as (kind, name): its controller and, for a
    Deployment's ReplicaSet (named `<deployment>-<pod-template-hash>`), that Deployment."""
    if pod.owner_kind is None or pod.owner_name is None:
        return ()
    direct = (pod.owner_kind, pod.owner_name)
    kind, _, name = (triage.owner(pod) or "").partition("/")
    return (direct,) if (kind, name) == direct else (direct, (kind, name))


@dataclass(frozen=True)
class Owner:
    """A controller a pod search names: `kind` None means any kind of that name."""

    kind: str | None
    name: str

    @classmethod
    def parse(cls, text: str) -> Owner:
        """`Kind/name` or `name`; anything else is a one-line user error saying what is valid."""
        kind, slash, name = text.strip().rpartition("/")
        try:
            if slash and not _KIND.match(kind):
                raise InvalidNameError(kind)
            check_name(name)
        except InvalidNameError:
            raise UserError(
                f"invalid owner {shown(text)}: give Kind/name (e.g. 'ReplicaSet/web-7d9f', "
                "'Deployment/web') or a name alone ('web'), a name being lowercase letters, digits, "
                "'-' and '.'"
            ) from None
        return cls(kind if slash else None, name)

    def matches(self, pod: PodRecord) -> bool:
        """Whether the pod answers to this controller (kinds compare case-insensitively): the
        same as looking through `owners_of`, without building it for pods that cannot match."""
        kind, name = pod.owner_kind, pod.owner_name
        if kind is None or name is None:
            return False
        wanted = self.kind.lower() if self.kind else None
        if name == self.name and (wanted is None or kind.lower() == wanted):
            return True
        if wanted not in (None, "deployment") or kind != "ReplicaSet" or not name.startswith(self.name):
            return False
        # `triage.owner`'s rule (the ReplicaSet `<deployment>-<pod-template-hash>`), without
        # building its string: this runs for every pod an owner index holds, twice.
        template_hash = pod.labels.get("pod-template-hash")
        return bool(template_hash) and name == f"{self.name}-{template_hash}"


@dataclass(frozen=True)
class PodFilter:
    """Pods on `node`, answering to `owner`, in `phase` (compared case-insensitively, as
    `k8s_fleet_find_pods` always has); None or blank: any."""

    node: str | None = None
    owner: Owner | None = None
    phase: str | None = None

    def __bool__(self) -> bool:
        return bool(self.node or self.owner or self.phase)

    @property
    def api_phase(self) -> str | None:
        """The phase as the API writes it (`running` -> `Running`), for a field selector; None
        for `Unknown` (the records' word for a pod with no phase, which no selector finds)."""
        wanted = (self.phase or "").lower()
        return next((p for p in PHASES if p.lower() == wanted and p != "Unknown"), None)

    def matches(self, pod: PodRecord) -> bool:
        return (
            (not self.node or pod.node == self.node)
            and (not self.phase or pod.phase.lower() == self.phase.lower())
            and (self.owner is None or self.owner.matches(pod))
        )


__all__ = ["PHASES", "Owner", "PodFilter", "owners_of"]
