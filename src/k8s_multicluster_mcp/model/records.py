"""Slim, typed records of the objects fleet questions are about, built from raw API JSON.

Both the live source and the watch cache turn API objects into these records with the same
functions, so an answer is the same whichever source it came from. A record keeps only what
queries and answers need: never Secret data, never environment variable values, never
managedFields or last-applied annotations.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from k8s_multicluster_mcp.common.clock import parse_time
from k8s_multicluster_mcp.model.kinds import Kind

Raw = Mapping[str, Any]
"""A decoded API object: nested objects are `dict`s (orjson, json, the client's sanitizer), which
the builders test with `isinstance(value, dict)`: an ABC check cost 9% of a pod record."""
MESSAGE_LIMIT = 300


def _clip(text: Any, limit: int = MESSAGE_LIMIT) -> str | None:
    if not isinstance(text, str) or not text:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition: datetime | None = None


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    """One container of a pod: spec identity plus the state the kubelet last reported."""

    name: str
    image: str
    init: bool = False
    ready: bool = False
    started: bool | None = None
    restart_count: int = 0
    state: str = "unknown"
    """`running`, `waiting`, `terminated` or `unknown` (no status reported yet)."""
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_reason: str | None = None
    last_exit_code: int | None = None
    last_finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PodRecord:
    context: str
    namespace: str
    name: str
    uid: str
    resource_version: str
    labels: Mapping[str, str]
    owner_kind: str | None
    owner_name: str | None
    phase: str
    reason: str | None
    message: str | None
    node: str | None
    ready: bool
    conditions: tuple[Condition, ...]
    containers: tuple[ContainerStatus, ...]
    created: datetime | None
    started: datetime | None
    deleting_since: datetime | None
    ip: str | None = None
    grace_seconds: int = 30
    """The deletion grace period (or the spec's termination grace period)."""

    @property
    def restarts(self) -> int:
        """RESTARTS as kubectl counts them: while an init container has not succeeded (and the pod
        is not Initialized), the init containers' restarts up to it; after that, the app
        containers'. An init container with no status yet is not counted, as in kubectl."""
        total = 0
        for c in self.containers:
            if not c.init or c.state == "unknown":
                continue
            total += c.restart_count
            if not (c.state == "terminated" and c.exit_code == 0):
                if not any(k.type == "Initialized" and k.status == "True" for k in self.conditions):
                    return total
                break
        return sum(c.restart_count for c in self.containers if not c.init)

    @property
    def ready_count(self) -> tuple[int, int]:
        main = [c for c in self.containers if not c.init]
        return sum(c.ready for c in main), len(main)


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """A container of a workload template: what drift is judged on. Env values are never kept."""

    name: str
    image: str
    requests: Mapping[str, str]
    limits: Mapping[str, str]
    init: bool = False


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    context: str
    namespace: str
    name: str
    uid: str
    resource_version: str
    labels: Mapping[str, str]
    replicas: int
    ready_replicas: int
    updated_replicas: int
    available_replicas: int
    unavailable_replicas: int
    generation: int
    observed_generation: int
    paused: bool
    strategy: str | None
    selector: Mapping[str, str]
    containers: tuple[ContainerSpec, ...]
    conditions: tuple[Condition, ...]
    created: datetime | None
    revision: str | None = None
    """The rollout revision (`deployment.kubernetes.io/revision`)."""
    status_replicas: int = 0
    """`status.replicas`: pods of every revision, old ones included while a rollout surges."""


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    effect: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class NodeRecord:
    context: str
    name: str
    uid: str
    resource_version: str
    labels: Mapping[str, str]
    ready: str
    """`True`, `False` or `Unknown`, as the Ready condition says."""
    unschedulable: bool
    roles: tuple[str, ...]
    taints: tuple[Taint, ...]
    conditions: tuple[Condition, ...]
    kubelet_version: str | None
    internal_ip: str | None
    capacity: Mapping[str, str]
    allocatable: Mapping[str, str]
    created: datetime | None


@dataclass(frozen=True, slots=True)
class NamespaceRecord:
    context: str
    name: str
    uid: str
    resource_version: str
    labels: Mapping[str, str]
    phase: str
    created: datetime | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    context: str
    namespace: str
    name: str
    uid: str
    resource_version: str
    labels: Mapping[str, str]
    type: str
    """`Normal` or `Warning`."""
    reason: str
    message: str | None
    object_kind: str
    object_name: str
    count: int
    last_seen: datetime | None


Record = PodRecord | DeploymentRecord | NodeRecord | NamespaceRecord | EventRecord


def _meta(obj: Raw) -> Raw:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _str(value: Any) -> str:
    """A string shared by every record that holds the same value (namespaces, nodes, images,
    label keys and values repeat across thousands of cached objects)."""
    return sys.intern(value if type(value) is str else str(value))


def _opt(value: Any) -> str | None:
    return sys.intern(value if type(value) is str else str(value)) if value else None


def _labels(meta: Raw) -> Mapping[str, str]:
    """Labels as a read-only mapping, one object for all records with the same labels (the pods
    of one ReplicaSet carry identical ones)."""
    labels = meta.get("labels")
    if not isinstance(labels, dict) or not labels:
        return _NO_LABELS
    return _shared_labels(tuple(sorted((_str(k), _str(v)) for k, v in labels.items())))


_NO_LABELS: Mapping[str, str] = MappingProxyType({})


@functools.lru_cache(maxsize=4096)
def _shared_labels(items: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    return MappingProxyType(dict(items))


def _conditions(status: Raw) -> tuple[Condition, ...]:
    out = []
    for cond in status.get("conditions") or ():
        if isinstance(cond, dict) and "type" in cond:
            out.append(
                Condition(
                    type=_str(cond["type"]),
                    status=_str(cond.get("status", "Unknown")),
                    reason=_opt(cond.get("reason")),
                    message=_clip(cond.get("message")),
                    last_transition=parse_time(cond.get("lastTransitionTime")),
                )
            )
    return tuple(out)


def _container_status(spec: Raw, status: Raw | None, init: bool) -> ContainerStatus:
    image = _str(spec.get("image") or (status or {}).get("image") or "")
    if status is None:
        return ContainerStatus(name=str(spec.get("name", "")), image=image, init=init)
    state_obj = status.get("state") or {}
    state, detail = next(((k, v) for k, v in state_obj.items() if isinstance(v, dict)), ("unknown", {}))
    last = next((v for v in (status.get("lastState") or {}).values() if isinstance(v, dict)), {})
    return ContainerStatus(
        name=_str(status.get("name") or spec.get("name", "")),
        image=image,
        init=init,
        ready=bool(status.get("ready")),
        started=status.get("started"),
        restart_count=int(status.get("restartCount") or 0),
        state=_str(state),
        reason=_opt(detail.get("reason")),
        message=_clip(detail.get("message")),
        exit_code=detail.get("exitCode"),
        started_at=parse_time(detail.get("startedAt")),
        finished_at=parse_time(detail.get("finishedAt")),
        last_reason=_opt(last.get("reason")),
        last_exit_code=last.get("exitCode"),
        last_finished_at=parse_time(last.get("finishedAt")),
    )


def _containers(spec: Raw, status: Raw) -> tuple[ContainerStatus, ...]:
    out: list[ContainerStatus] = []
    for init, spec_key, status_key in (
        (True, "initContainers", "initContainerStatuses"),
        (False, "containers", "containerStatuses"),
    ):
        listed = [s for s in status.get(status_key) or () if isinstance(s, dict)]
        statuses = {s.get("name"): s for s in listed}
        order = {s.get("name"): i for i, s in enumerate(listed)}
        specs = [c for c in spec.get(spec_key) or () if isinstance(c, dict)]
        if not init:
            # kubectl reads main containers in the order of the status list (the kubelet sorts it
            # by name), and which container's state wins in STATUS depends on that order.
            specs.sort(key=lambda c: order.get(c.get("name"), len(order)))
        out.extend(_container_status(c, statuses.get(c.get("name")), init) for c in specs)
    return tuple(out)


def _owner(meta: Raw) -> tuple[str | None, str | None]:
    refs = [r for r in meta.get("ownerReferences") or () if isinstance(r, dict)]
    ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    return (_opt(ref.get("kind")), _opt(ref.get("name"))) if ref else (None, None)


def pod_record(context: str, obj: Raw) -> PodRecord:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    conditions = _conditions(status)
    owner_kind, owner_name = _owner(meta)
    return PodRecord(
        context=context,
        namespace=_str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        labels=_labels(meta),
        owner_kind=owner_kind,
        owner_name=owner_name,
        phase=_str(status.get("phase") or "Unknown"),
        reason=_opt(status.get("reason")),
        message=_clip(status.get("message")),
        node=_opt(spec.get("nodeName")),
        ready=any(c.type == "Ready" and c.status == "True" for c in conditions),
        conditions=conditions,
        containers=_containers(spec, status),
        created=parse_time(meta.get("creationTimestamp")),
        started=parse_time(status.get("startTime")),
        deleting_since=parse_time(meta.get("deletionTimestamp")),
        ip=status.get("podIP") or None,
        grace_seconds=_grace(
            meta.get("deletionGracePeriodSeconds"), spec.get("terminationGracePeriodSeconds")
        ),
    )


def _grace(*values: Any) -> int:
    return next((int(v) for v in values if isinstance(v, int) and not isinstance(v, bool)), 30)


def _resources(section: Any) -> dict[str, str]:
    return {_str(k): _str(v) for k, v in section.items()} if isinstance(section, dict) else {}


def deployment_record(context: str, obj: Raw) -> DeploymentRecord:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    containers = tuple(
        ContainerSpec(
            name=str(c.get("name", "")),
            image=_str(c.get("image", "")),
            requests=_resources((c.get("resources") or {}).get("requests")),
            limits=_resources((c.get("resources") or {}).get("limits")),
            init=init,
        )
        for init, key in ((True, "initContainers"), (False, "containers"))
        for c in template.get(key) or ()
        if isinstance(c, dict)
    )
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    replicas = spec.get("replicas")
    return DeploymentRecord(
        context=context,
        namespace=_str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        labels=_labels(meta),
        replicas=1 if replicas is None else int(replicas),
        ready_replicas=int(status.get("readyReplicas") or 0),
        updated_replicas=int(status.get("updatedReplicas") or 0),
        available_replicas=int(status.get("availableReplicas") or 0),
        unavailable_replicas=int(status.get("unavailableReplicas") or 0),
        generation=int(meta.get("generation") or 0),
        observed_generation=int(status.get("observedGeneration") or 0),
        paused=bool(spec.get("paused")),
        strategy=(spec.get("strategy") or {}).get("type"),
        selector={str(k): str(v) for k, v in selector.items()},
        containers=containers,
        conditions=_conditions(status),
        created=parse_time(meta.get("creationTimestamp")),
        revision=_opt((meta.get("annotations") or {}).get("deployment.kubernetes.io/revision")),
        status_replicas=int(status.get("replicas") or 0),
    )


_ROLE_PREFIX = "node-role.kubernetes.io/"


def node_record(context: str, obj: Raw) -> NodeRecord:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    labels = _labels(meta)
    conditions = _conditions(status)
    ready = next((c.status for c in conditions if c.type == "Ready"), "Unknown")
    addresses = [a for a in status.get("addresses") or () if isinstance(a, dict)]
    return NodeRecord(
        context=context,
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        labels=labels,
        ready=ready,
        unschedulable=bool(spec.get("unschedulable")),
        roles=tuple(sorted(k[len(_ROLE_PREFIX) :] for k in labels if k.startswith(_ROLE_PREFIX))),
        taints=tuple(
            Taint(key=str(t.get("key", "")), effect=str(t.get("effect", "")), value=t.get("value") or None)
            for t in spec.get("taints") or ()
            if isinstance(t, dict)
        ),
        conditions=conditions,
        kubelet_version=(status.get("nodeInfo") or {}).get("kubeletVersion"),
        internal_ip=next((a.get("address") for a in addresses if a.get("type") == "InternalIP"), None),
        capacity=_resources(status.get("capacity")),
        allocatable=_resources(status.get("allocatable")),
        created=parse_time(meta.get("creationTimestamp")),
    )


def namespace_record(context: str, obj: Raw) -> NamespaceRecord:
    meta = _meta(obj)
    return NamespaceRecord(
        context=context,
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        labels=_labels(meta),
        phase=str((obj.get("status") or {}).get("phase") or "Active"),
        created=parse_time(meta.get("creationTimestamp")),
    )


def event_record(context: str, obj: Raw) -> EventRecord:
    meta = _meta(obj)
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    series = obj.get("series") or {}
    last_seen = (
        parse_time(series.get("lastObservedTime"))
        or parse_time(obj.get("lastTimestamp"))
        or parse_time(obj.get("eventTime"))
        or parse_time(obj.get("firstTimestamp"))
        or parse_time(meta.get("creationTimestamp"))
    )
    return EventRecord(
        context=context,
        namespace=_str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        labels=_NO_LABELS,
        type=_str(obj.get("type") or "Normal"),
        reason=_str(obj.get("reason") or ""),
        message=_clip(obj.get("message") or obj.get("note")),
        object_kind=_str(involved.get("kind") or ""),
        object_name=str(involved.get("name") or ""),
        count=int(series.get("count") or obj.get("count") or 1),
        last_seen=last_seen,
    )


_BUILDERS: dict[Kind, Callable[[str, Raw], Record]] = {
    Kind.POD: pod_record,
    Kind.DEPLOYMENT: deployment_record,
    Kind.NODE: node_record,
    Kind.NAMESPACE: namespace_record,
    Kind.EVENT: event_record,
}


def to_record(kind: Kind, context: str, obj: Raw) -> Record:
    """The record for one raw API object of `kind`."""
    return _BUILDERS[kind](context, obj)
