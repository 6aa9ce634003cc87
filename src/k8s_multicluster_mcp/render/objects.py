"""Compact answers about objects of any kind: tables as the API servers print them, whole objects
as YAML or JSON, kubectl-describe-like text, events."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from k8s_multicluster_mcp.common.clock import age, parse_time, utcnow
from k8s_multicluster_mcp.common.text import one_line
from k8s_multicluster_mcp.model.records import Raw
from k8s_multicluster_mcp.query.objects import Found, ObjectsResult, TableResult, event_time
from k8s_multicluster_mcp.render.base import ClusterOut, more_line, provenance, table
from k8s_multicluster_mcp.render.lists import ListOutput

TEXT_LIMIT = 30_000
"""Most characters of objects (YAML, JSON, describe) in one answer; the rest is cut, saying so."""
Format = Literal["yaml", "json"]


class ObjectsOutput(BaseModel):
    kind: str
    clusters: list[ClusterOut]
    objects: list[dict[str, Any]]


def render_table(result: TableResult, limit: int, now: datetime | None = None) -> tuple[str, ListOutput]:
    now = now or utcnow()
    shown = list(result.rows[:limit])
    lead = ["CONTEXT", "NAMESPACE"] if result.namespaced else ["CONTEXT"]
    columns = [*lead, *result.columns]
    rows = [[r.context, *([r.namespace or ""] if result.namespaced else []), *r.cells] for r in shown]
    output = ListOutput(
        kind=result.kind,
        clusters=[ClusterOut.of(c, now) for c in result.clusters],
        columns=columns,
        rows=rows,
        total=result.total,
        shown=len(rows),
    )
    lines = provenance(result.clusters, now)
    if rows:
        lines.append(table(columns, rows))
    elif any(c.status == "ok" for c in result.clusters):
        lines.append(f"No {result.kind} found.")
    if result.total > len(rows) or not result.exact:
        hidden = Counter(r.context for r in result.rows[limit:]) + Counter(result.unread)
        lines.append(more_line(hidden, result.total - len(rows), result.exact))
    return "\n".join(lines), output


def clip(text: str) -> str:
    if len(text) <= TEXT_LIMIT:
        return text
    more = len(text) - TEXT_LIMIT
    return f"{text[:TEXT_LIMIT]}\n… clipped at {TEXT_LIMIT} characters ({more} more); ask for one object"


def dump(value: Any, output: Format = "yaml") -> str:
    if output == "json":
        return json.dumps(value, indent=1, ensure_ascii=False, default=str)
    return yaml.safe_dump(value, sort_keys=False, width=120, allow_unicode=True).rstrip()


def render_objects(
    result: ObjectsResult, kind: str, output: Format = "yaml", now: datetime | None = None
) -> tuple[str, ObjectsOutput]:
    """Whole objects (already cleaned), one per cluster that has it."""
    now = now or utcnow()
    objects = [f.object for f in result.items]
    structured = ObjectsOutput(
        kind=result.items[0].type.qualified if result.items else kind,
        clusters=[ClusterOut.of(c, now) for c in result.clusters],
        objects=objects,
    )
    lines = provenance(result.clusters, now)
    several = len(result.items) > 1
    parts = [(f"# {one_line(f.context)}\n" if several else "") + dump(f.object, output) for f in result.items]
    if parts:
        lines.append(clip("\n".join(parts)))
    lines.extend(_unread(result))
    return "\n".join(lines), structured


def events_table(events: Sequence[Raw], now: datetime, *, with_object: bool = False) -> str:
    headers = ["LAST SEEN", "TYPE", "REASON", *(["OBJECT"] if with_object else []), "COUNT", "MESSAGE"]
    rows = []
    for e in events:
        involved = e.get("involvedObject") or e.get("regarding") or {}
        count = (e.get("series") or {}).get("count") or e.get("count") or 1
        rows.append(
            [
                age(parse_time(event_time(e)), now),
                str(e.get("type") or ""),
                str(e.get("reason") or ""),
                *([f"{involved.get('kind', '')}/{involved.get('name', '')}"] if with_object else []),
                str(count),
                str(e.get("message") or e.get("note") or ""),
            ]
        )
    return table(headers, rows)


def _labels(values: Mapping[str, Any] | None) -> list[str]:
    return [f"{k}={v}" for k, v in (values or {}).items()] or ["<none>"]


def describe(found: Found, now: datetime) -> str:
    """kubectl-describe-like text for one object: identity, labels, annotations, owner, the rest
    of the object as indented YAML, and its newest events."""
    obj = found.object
    meta = obj.get("metadata") or {}
    created = parse_time(meta.get("creationTimestamp"))
    head: list[tuple[str, list[str]]] = [
        ("Context", [found.context]),
        ("Kind", [f"{obj.get('kind') or found.type.kind} ({found.type.api_version})"]),
        ("Name", [str(meta.get("name") or "")]),
    ]
    if found.type.namespaced:
        head.append(("Namespace", [str(meta.get("namespace") or "")]))
    head += [
        ("Labels", _labels(meta.get("labels"))),
        ("Annotations", [f"{k}: {v}" for k, v in (meta.get("annotations") or {}).items()] or ["<none>"]),
        (
            "Created",
            [f"{meta.get('creationTimestamp')} ({age(created, now)} ago)" if created else "<unknown>"],
        ),
    ]
    owners = meta.get("ownerReferences") or []
    if owners:
        head.append(("Controlled By", [f"{o.get('kind')}/{o.get('name')}" for o in owners]))
    if meta.get("deletionTimestamp"):
        head.append(("Deleting Since", [str(meta["deletionTimestamp"])]))
    lines = []
    for label, values in head:
        for i, value in enumerate(values):
            lines.append(f"{(label + ':') if i == 0 else '':<14}{one_line(value)}")
    rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    if rest:
        lines.append(dump(rest))
    if found.events:
        lines.append("Events:")
        lines.append(events_table(found.events, now))
    elif found.events_error:
        lines.append(one_line(f"Events:       not read ({found.events_error})"))
    else:
        lines.append("Events:       <none>")
    return "\n".join(lines)


def render_describe(
    result: ObjectsResult, kind: str, now: datetime | None = None
) -> tuple[str, ObjectsOutput]:
    now = now or utcnow()
    structured = ObjectsOutput(
        kind=result.items[0].type.qualified if result.items else kind,
        clusters=[ClusterOut.of(c, now) for c in result.clusters],
        objects=[{**f.object, "events": list(f.events)} for f in result.items],
    )
    lines = provenance(result.clusters, now)
    if result.items:
        lines.append(clip("\n\n".join(describe(f, now) for f in result.items)))
    lines.extend(_unread(result))
    return "\n".join(lines), structured


def _unread(result: ObjectsResult) -> list[str]:
    """The "… N more not shown" line for objects beyond the limit read per cluster."""
    if not result.unread:
        return []
    counts = Counter({ctx: n for ctx, n in result.unread.items() if n > 0})
    exact = all(n > 0 for n in result.unread.values())
    total = sum(counts.values()) or 1
    return [more_line(counts, total, exact, hint="name one object or narrow the selector.")]
