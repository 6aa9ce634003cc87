"""Pod logs, resource usage (metrics API) and application diagnosis: reads the query layer and
`objects` make on behalf of the diagnostics tools, with one-line reasons where a cluster cannot
serve them (no kubelet behind the API server, no metrics-server)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from k8s_multicluster_mcp.common import quantities
from k8s_multicluster_mcp.common.errors import ClusterApiError, ClusterError, UserError
from k8s_multicluster_mcp.common.names import check_name, check_namespace
from k8s_multicluster_mcp.common.text import one_line, shown
from k8s_multicluster_mcp.kube import deadlines
from k8s_multicluster_mcp.model import rollouts
from k8s_multicluster_mcp.model.contexts import ContextInfo
from k8s_multicluster_mcp.model.kinds import Kind
from k8s_multicluster_mcp.model.records import EventRecord, Record
from k8s_multicluster_mcp.query import fleet
from k8s_multicluster_mcp.query.objects import Found, ObjectReader
from k8s_multicluster_mcp.query.results import ClusterReport, ContextSpec, FleetResult
from k8s_multicluster_mcp.query.state import ClusterState

LOG_BYTES = 64 * 1024
"""Most bytes of log one call returns (the API server cuts there: `limitBytes`)."""
MAX_TAIL = 5000
METRICS = "/apis/metrics.k8s.io/v1beta1"
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def since_seconds(value: str | None) -> int | None:
    """'90s', '5m', '1h30m' -> seconds; None when not given."""
    if value is None or not value.strip():
        return None
    match = _DURATION.match(value.strip())
    if not match or not any(match.groups()):
        raise UserError(f"invalid since {shown(value)}: use a duration like '30s', '5m', '2h' or '1h30m'")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def check_tail(tail: int) -> int:
    if not 1 <= tail <= MAX_TAIL:
        raise UserError(f"tail must be between 1 and {MAX_TAIL}, got {tail}")
    return tail


def _why_not(exc: BaseException, namespace: str, pod: str) -> ClusterError:
    """A failure to read logs, said plainly. The API server fetches logs from the kubelet of the
    pod's node; where none answers (a control plane without nodes) it says 404 or 5xx."""
    from k8s_multicluster_mcp.kube.apierrors import classify

    error = classify(exc)
    if not isinstance(error, ClusterApiError) or error.http_status not in (400, 404, 500, 502, 503):
        return error
    if error.http_status == 404 and f'pods "{pod}" not found' in error.message:
        return ClusterApiError(f"pod {namespace}/{pod} not found", http_status=404)
    what = f"the cluster cannot serve logs of pod {namespace}/{pod}"
    if error.http_status == 400:
        return ClusterApiError(f"{what}: {error.message}", http_status=400)
    return ClusterApiError(
        f"{what}: no kubelet of its node answered through the API server ({error.message})",
        http_status=error.http_status,
    )


_KUBELET_FAILURES = ("unable to retrieve container logs for ", "failed to try resolving symlinks in path ")


def kubelet_failure(body: str) -> str | None:
    """The kubelet's error text when it answers a log request with 200 and a sentence instead of
    the log (e.g. `previous` logs of a container whose files are gone); None for a real log."""
    first = body.strip()
    if "\n" in first or len(first) > 1000 or not first.startswith(_KUBELET_FAILURES):
        return None
    return one_line(first)


def events(
    state: ClusterState,
    context: ContextSpec,
    namespace: str | None,
    about: str | None = None,
    type: str | None = None,
    reason: str | None = None,
) -> tuple[FleetResult[Record], list[EventRecord]]:
    """Events of the selected clusters, newest first; `about` keeps those of one object (`name` or
    `kind/name`), `type` and `reason` those of that type and reason."""
    result = state.list(Kind.EVENT, context, namespace)
    kind, _, name = (about or "").rpartition("/")
    found = [
        e for e in result.items
        if isinstance(e, EventRecord)
        and (not name or (e.object_name == name and (not kind or e.object_kind.lower() == kind.lower())))
        and (type is None or e.type == type)
        and (reason is None or e.reason.lower() == reason.lower())
    ]  # fmt: skip
    found.sort(key=lambda e: e.last_seen.isoformat() if e.last_seen else "", reverse=True)
    return result, found


@dataclass(frozen=True)
class Logs:
    context: str
    pod: str
    container: str | None
    text: str
    truncated: bool


def pod_logs(
    reader: ObjectReader,
    context: ContextSpec,
    namespace: str,
    pod: str,
    *,
    container: str | None = None,
    since: str | None = None,
    tail: int = 100,
    previous: bool = False,
    tool: str = "k8s_get_pod_logs",
) -> tuple[Logs | None, ClusterReport]:
    """The last `tail` lines (at most `LOG_BYTES`) of one pod's container, from one context."""
    ctx = reader.one(context, tool)
    ns = check_namespace(namespace) or ctx.namespace or "default"
    check_name(pod, "pod")
    if container is not None:
        check_name(container, "container")
    query = {
        "container": container,
        "tailLines": check_tail(tail),
        "sinceSeconds": since_seconds(since),
        "previous": previous or None,
        "limitBytes": LOG_BYTES,
    }

    def read(c: ContextInfo, _: deadlines.Deadline) -> Logs:
        try:
            data = reader.raw(c, f"/api/v1/namespaces/{ns}/pods/{pod}/log", query)
        except Exception as exc:
            raise _why_not(exc, ns, pod) from exc
        text = data.decode("utf-8", "replace")
        failure = kubelet_failure(text)
        if failure is not None:
            raise ClusterApiError(f"the kubelet could not read the logs of pod {ns}/{pod}: {failure}")
        return Logs(c.name, pod, container, text, len(data) >= LOG_BYTES)

    _, answers, reports = reader.call(ctx.name, read, what=f"reading logs of {ns}/{pod}")
    answer = answers[ctx.name]
    return (None if isinstance(answer, ClusterError) else answer), reports[0]


@dataclass(frozen=True)
class Usage:
    context: str
    namespace: str | None
    name: str
    cpu: float
    memory: float
    cpu_share: float | None = None
    """Of the node's allocatable (nodes only)."""
    memory_share: float | None = None


def _metrics(reader: ObjectReader, c: ContextInfo, path: str) -> list[dict[str, Any]]:
    try:
        body = orjson.loads(reader.raw(c, path, {"limit": 5000}, accept="application/json"))
    except Exception as exc:
        status = getattr(exc, "status", None)
        if status == 404:
            raise ClusterApiError(
                "the metrics API (metrics.k8s.io) is not served by this cluster: "
                "metrics-server is not installed",
                http_status=404,
            ) from exc
        if status == 503:
            raise ClusterApiError(
                "the metrics API is registered but not available (is metrics-server running?)",
                http_status=503,
            ) from exc
        raise
    return list(body.get("items") or ())


def top_nodes(
    state: ClusterState, reader: ObjectReader, context: ContextSpec
) -> tuple[list[Usage], list[ClusterReport]]:
    """CPU and memory use of every node, with the share of its allocatable."""
    _, answers, reports = reader.call(
        context, lambda c, _: _metrics(reader, c, f"{METRICS}/nodes"), what="reading node metrics"
    )
    answered = [name for name, a in answers.items() if not isinstance(a, ClusterError)]
    nodes = state.nodes(answered) if answered else None
    allocatable = {(n.context, n.name): n.allocatable for n in (nodes.items if nodes else ())}
    usage: list[Usage] = []
    for name, items in answers.items():
        if isinstance(items, ClusterError):
            continue
        for item in items:
            node = str((item.get("metadata") or {}).get("name") or "")
            cpu = quantities.parse((item.get("usage") or {}).get("cpu")) or 0.0
            memory = quantities.parse((item.get("usage") or {}).get("memory")) or 0.0
            alloc = allocatable.get((name, node)) or {}
            cpu_total, memory_total = (
                quantities.parse(alloc.get("cpu")),
                quantities.parse(alloc.get("memory")),
            )
            usage.append(
                Usage(
                    name, None, node, cpu, memory,
                    cpu / cpu_total if cpu_total else None,
                    memory / memory_total if memory_total else None,
                )
            )  # fmt: skip
    usage.sort(key=lambda u: (u.context, u.name))
    return usage, reports


def top_pods(
    reader: ObjectReader, context: ContextSpec, namespace: str | None, sort_by: str = "cpu"
) -> tuple[list[Usage], list[ClusterReport]]:
    """CPU and memory use of every pod (sum of its containers), heaviest first."""
    ns = check_namespace(namespace)
    path = f"{METRICS}/namespaces/{ns}/pods" if ns else f"{METRICS}/pods"
    _, answers, reports = reader.call(
        context, lambda c, _: _metrics(reader, c, path), what="reading pod metrics"
    )
    usage = []
    for name, items in answers.items():
        if isinstance(items, ClusterError):
            continue
        for item in items:
            meta = item.get("metadata") or {}
            containers = item.get("containers") or ()
            cpu = sum(quantities.parse((c.get("usage") or {}).get("cpu")) or 0.0 for c in containers)
            memory = sum(quantities.parse((c.get("usage") or {}).get("memory")) or 0.0 for c in containers)
            usage.append(Usage(name, meta.get("namespace"), str(meta.get("name") or ""), cpu, memory))
    usage.sort(key=lambda u: -(u.memory if sort_by == "memory" else u.cpu))
    return usage, reports


@dataclass
class Diagnosis:
    """What k8s_diagnose_application found about one workload in one cluster."""

    context: str
    workload: Found | None
    reports: list[ClusterReport]
    rollout: str | None = None
    rollout_done: bool | None = None
    pods_total: int = 0
    failing: list[fleet.FailingPod] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    logs: list[tuple[str, str | None, str]] = field(default_factory=list)
    """(pod, container, text or the reason there are none)."""
    findings: list[str] = field(default_factory=list)


MAX_LOG_PODS = 3
DIAGNOSE_TAIL = 20


def diagnose(
    state: ClusterState,
    reader: ObjectReader,
    context: ContextSpec,
    namespace: str,
    app_name: str,
    resource_type: str = "deployment",
) -> Diagnosis:
    """The workload, its pods classified as the fleet tools do, its newest events and the last
    log lines of up to `MAX_LOG_PODS` failing pods, with a list of findings."""
    ctx = reader.one(context, "k8s_diagnose_application")
    ns = check_namespace(namespace) or ctx.namespace or "default"
    found = reader.get(resource_type, app_name, ctx.name, ns)
    workload = found.items[0] if found.items else None
    out = Diagnosis(ctx.name, workload, list(found.clusters))
    if workload is None:
        out.findings.append(f"{resource_type} {app_name!r} could not be read")
        return out
    obj = workload.object
    if workload.type.kind in rollouts.ROLLOUT_KINDS:
        out.rollout_done, out.rollout = rollouts.status(workload.type.kind, obj)
        if not out.rollout_done:
            out.findings.append(f"rollout not complete: {out.rollout}")
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in labels.items()) or None
    if selector:
        pods = state.list(Kind.POD, ctx.name, ns, selector)
        out.pods_total = len(pods.items)
        failing = fleet.failing_pods(state, ctx.name, ns, selector)
        out.failing = list(failing.items)
        if out.failing:
            reasons: dict[str, int] = {}
            for f in out.failing:
                reasons[f.reason] = reasons.get(f.reason, 0) + 1
            detail = ", ".join(f"{r} ({n})" for r, n in sorted(reasons.items(), key=lambda x: -x[1]))
            out.findings.append(f"{len(out.failing)} of {out.pods_total} pods failing: {detail}")
        elif out.pods_total == 0:
            out.findings.append("no pods match the workload's selector")
    else:
        out.findings.append("the workload has no matchLabels selector; pods were not looked up")
    names = {app_name, *(f.name for f in out.failing)}
    events = state.list(Kind.EVENT, ctx.name, ns)
    related = [
        e for e in events.items
        if isinstance(e, EventRecord) and (e.object_name in names or e.object_name.startswith(f"{app_name}-"))
    ]  # fmt: skip
    related.sort(key=lambda e: e.last_seen.isoformat() if e.last_seen else "", reverse=True)
    out.events = related[:20]
    warnings = [e for e in out.events if e.type == "Warning"]
    if warnings:
        out.findings.append(
            "warning events: "
            + ", ".join(sorted({f"{e.reason} on {e.object_kind}/{e.object_name}" for e in warnings})[:5])
        )
    for f in out.failing[:MAX_LOG_PODS]:
        logs, report = pod_logs(
            reader,
            ctx.name,
            ns,
            f.name,
            tail=DIAGNOSE_TAIL,
            previous=f.restarts > 0,
            tool="k8s_diagnose_application",
        )
        out.logs.append((f.name, None, logs.text if logs else f"no logs: {report.error}"))
    if not out.findings:
        out.findings.append("no problem found: rollout complete, no failing pods, no warning events")
    return out


def describe_usage(usage: Sequence[Usage]) -> list[list[str]]:
    rows = []
    for u in usage:
        cpu_share = f" ({u.cpu_share:.0%})" if u.cpu_share is not None else ""
        mem_share = f" ({u.memory_share:.0%})" if u.memory_share is not None else ""
        rows.append(
            [u.context, *([u.namespace or ""] if u.namespace is not None else []), u.name,
             quantities.cpu(u.cpu) + cpu_share, quantities.memory(u.memory) + mem_share]
        )  # fmt: skip
    return rows
