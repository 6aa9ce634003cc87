"""Whether one object may need attention: the sets the watch store keeps current.

Deliberately a superset of what any fleet question reports: a pod that is not Running and Ready
(or Succeeded), or that ever restarted; a deployment short of its replicas, paused, stalled or
with an unobserved generation; a node not Ready, cordoned or under pressure. Time-dependent rules
("restarted within the hour", "Pending for more than five minutes") are applied by the query layer
to these sets at question time, so a set never goes stale as the clock moves.
"""

from __future__ import annotations

from collections.abc import Callable

from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import DeploymentRecord, NodeRecord, PodRecord, Record

_NODE_PROBLEMS = frozenset({"MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"})


def node_readiness(node: NodeRecord) -> str:
    """`Ready`, `NotReady` or `Unknown`: the node's Ready condition in kubectl's words (every
    answer that names a node's readiness uses these)."""
    return {"True": "Ready", "False": "NotReady"}.get(node.ready, "Unknown")


def pod_needs_attention(pod: PodRecord) -> bool:
    """False only for a pod triage can never call failing: Succeeded, or Running and Ready with
    every container running and ready (init containers done), never restarted. A status the
    kubelet writes in two steps (Ready still True, a container already terminated) needs attention."""
    if pod.deleting_since is not None:
        return True
    if pod.phase == "Succeeded":
        return False
    if pod.phase != "Running" or not pod.ready:
        return True
    return any(
        c.restart_count > 0
        or c.last_reason is not None
        or c.state == "waiting"
        or (c.state == "terminated" and (not c.init or c.exit_code != 0))
        or (not c.init and not c.ready)
        for c in pod.containers
    )


def deployment_needs_attention(deployment: DeploymentRecord) -> bool:
    return (
        deployment.available_replicas < deployment.replicas
        or deployment.unavailable_replicas > 0
        or deployment.paused
        or deployment.observed_generation < deployment.generation
        or any(c.type == "Progressing" and c.status == "False" for c in deployment.conditions)
    )


def node_needs_attention(node: NodeRecord) -> bool:
    return (
        node.ready != "True"
        or node.unschedulable
        or any(c.type in _NODE_PROBLEMS and c.status == "True" for c in node.conditions)
    )


def tally(record: Record) -> tuple[str, ...]:
    """What `k8s_fleet_summary` counts this record under: a pod's phase; `node`, `ready`,
    `cordoned`; `deployment`, `degraded`. The watch store keeps these counts current per
    namespace as events arrive; for a live list the query layer counts the listed records."""
    if isinstance(record, PodRecord):
        return (record.phase,)
    if isinstance(record, NodeRecord):
        return ("node",) + ("ready",) * (record.ready == "True") + ("cordoned",) * record.unschedulable
    if isinstance(record, DeploymentRecord):
        return ("deployment",) + ("degraded",) * deployment_needs_attention(record)
    return ()


def _never(_: Record) -> bool:
    return False


def needs_attention(kind: Kind) -> Callable[[Record], bool]:
    """The predicate for `kind` (records of other kinds never need attention)."""
    predicates: dict[Kind, Callable[[Record], bool]] = {
        Kind.POD: lambda r: isinstance(r, PodRecord) and pod_needs_attention(r),
        Kind.DEPLOYMENT: lambda r: isinstance(r, DeploymentRecord) and deployment_needs_attention(r),
        Kind.NODE: lambda r: isinstance(r, NodeRecord) and node_needs_attention(r),
    }
    return predicates.get(kind, _never)


__all__ = [
    "deployment_needs_attention",
    "needs_attention",
    "node_needs_attention",
    "node_readiness",
    "pod_needs_attention",
    "tally",
]
