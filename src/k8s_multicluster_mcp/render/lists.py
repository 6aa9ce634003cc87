"""The cached kinds as kubectl lists them: STATUS of a pod (kubectl's printPod), rows and columns
of pods, deployments, nodes and namespaces, `ListOutput` (any kind's list), and one record in full
for a structured answer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel

from k8s_multicluster_mcp.common.clock import age, utcnow
from k8s_multicluster_mcp.common.text import one_line
from k8s_multicluster_mcp.model.health import node_readiness
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import (
    ContainerStatus,
    DeploymentRecord,
    NamespaceRecord,
    NodeRecord,
    PodRecord,
    Record,
)
from k8s_multicluster_mcp.query.results import FleetResult
from k8s_multicluster_mcp.render.base import ClusterOut, more_line, provenance, table


def _exit_words(c: ContainerStatus, prefix: str = "") -> str:
    return prefix + (c.reason or f"ExitCode:{c.exit_code}")


def pod_status(pod: PodRecord) -> str:
    """What kubectl shows in the STATUS column (its printPod, step by step): the pod's reason,
    then the first init container that has not succeeded, then the main containers in the
    order of the status list, the first one with a waiting or terminated reason winning."""
    status = pod.reason or pod.phase
    if any(c.type == "PodScheduled" and c.reason == "SchedulingGated" for c in pod.conditions):
        status = "SchedulingGated"
    init = [c for c in pod.containers if c.init]
    reported = [c for c in init if c.state != "unknown"]
    initializing = False
    for index, c in enumerate(reported):
        if c.state == "terminated" and c.exit_code == 0:
            continue
        initializing = True
        if c.state == "terminated":
            status = _exit_words(c, "Init:")
        elif c.state == "waiting" and c.reason and c.reason != "PodInitializing":
            status = f"Init:{c.reason}"
        else:
            status = f"Init:{index}/{len(init)}"
        break
    initialized = any(c.type == "Initialized" and c.status == "True" for c in pod.conditions)
    if not initializing or initialized:
        running = False
        for c in reversed([c for c in pod.containers if not c.init]):
            if c.state == "waiting" and c.reason:
                status = c.reason
            elif c.state == "terminated":
                status = _exit_words(c)
            elif c.ready and c.state == "running":
                running = True
        if status == "Completed" and running:
            ready = any(c.type == "Ready" and c.status == "True" for c in pod.conditions)
            status = "Running" if ready else "NotReady"
    if pod.deleting_since is not None and pod.reason == "NodeLost":
        return "Unknown"
    if pod.deleting_since is not None and pod.phase not in ("Succeeded", "Failed"):
        return "Terminating"
    return status


class PodRow(BaseModel):
    context: str
    namespace: str
    name: str
    ready: str
    status: str
    restarts: int
    age: str
    node: str | None = None


class DeploymentRow(BaseModel):
    context: str
    namespace: str
    name: str
    ready: str
    up_to_date: int
    available: int
    images: list[str]
    age: str


class NodeRow(BaseModel):
    context: str
    name: str
    status: str
    roles: str
    version: str | None = None
    internal_ip: str | None = None
    age: str


class NamespaceRow(BaseModel):
    context: str
    name: str
    status: str
    age: str


RecordRow = PodRow | DeploymentRow | NodeRow | NamespaceRow


def node_status(node: NodeRecord) -> str:
    return node_readiness(node) + (",SchedulingDisabled" if node.unschedulable else "")


def row(record: Record, now: datetime) -> RecordRow:
    if isinstance(record, PodRecord):
        ready, total = record.ready_count
        return PodRow(
            context=record.context, namespace=record.namespace, name=record.name, ready=f"{ready}/{total}",
            status=pod_status(record), restarts=record.restarts, age=age(record.created, now),
            node=record.node,
        )  # fmt: skip
    if isinstance(record, DeploymentRecord):
        return DeploymentRow(
            context=record.context, namespace=record.namespace, name=record.name,
            ready=f"{record.ready_replicas}/{record.replicas}", up_to_date=record.updated_replicas,
            available=record.available_replicas, images=[c.image for c in record.containers if not c.init],
            age=age(record.created, now),
        )  # fmt: skip
    if isinstance(record, NodeRecord):
        return NodeRow(
            context=record.context, name=record.name, status=node_status(record),
            roles=",".join(record.roles) or "<none>", version=record.kubelet_version,
            internal_ip=record.internal_ip, age=age(record.created, now),
        )  # fmt: skip
    if isinstance(record, NamespaceRecord):
        return NamespaceRow(
            context=record.context, name=record.name, status=record.phase, age=age(record.created, now)
        )
    raise TypeError(f"no list row for {type(record).__name__}")


_COLUMNS: dict[Kind, tuple[str, ...]] = {
    Kind.POD: ("context", "namespace", "name", "ready", "status", "restarts", "age", "node"),
    Kind.DEPLOYMENT: ("context", "namespace", "name", "ready", "up_to_date", "available", "age", "images"),
    Kind.NODE: ("context", "name", "status", "roles", "version", "internal_ip", "age"),
    Kind.NAMESPACE: ("context", "name", "status", "age"),
}


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


class ListOutput(BaseModel):
    """A fleet-wide list: per-cluster provenance, then the rows shown (at most `limit`): typed
    `items` for pods, deployments, nodes and namespaces; for any other kind `columns` and `rows`
    as the API servers print them, each row starting with its context (and namespace)."""

    kind: str
    clusters: list[ClusterOut]
    total: int
    shown: int
    items: list[RecordRow] = []
    columns: list[str] | None = None
    rows: list[list[str]] | None = None


def render_list(
    result: FleetResult[Record], limit: int, now: datetime | None = None
) -> tuple[str, ListOutput]:
    """The text answer and its structured twin for a list."""
    now = now or utcnow()
    rows = [row(r, now) for r in result.items[:limit]]
    output = ListOutput(
        kind=result.kind.value,
        clusters=[ClusterOut.of(c, now) for c in result.clusters],
        total=len(result.items),
        shown=len(rows),
        items=rows,
    )
    columns = _COLUMNS[result.kind]
    lines = provenance(result.clusters, now)
    if rows:
        lines.append(
            table([c.upper() for c in columns], [[_cell(getattr(r, c)) for c in columns] for r in rows])
        )
    elif result.answered:
        lines.append(f"No {result.kind.value} found.")
    if len(result.items) > len(rows):
        hidden = Counter(r.context for r in result.items[limit:])
        lines.append(more_line(hidden, len(result.items) - len(rows)))
    return "\n".join(lines), output


def _plain(value: object) -> object:
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v not in (None, "", (), [], {})}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return _plain({f: getattr(value, f) for f in value.__dataclass_fields__})
    if isinstance(value, Mapping):
        return _plain(dict(value))
    return value


def detail(record: Record) -> dict[str, object]:
    """One record as a plain dict with empty fields dropped (what `k8s_get_resource` shows)."""
    out: dict[str, object] = {}
    plain = _plain(record)
    if isinstance(plain, dict):
        out.update(plain)
    if isinstance(record, PodRecord):
        out["status_summary"] = pod_status(record)
    return out
