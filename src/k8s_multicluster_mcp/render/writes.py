"""What a write did, for the model: per object created, configured, unchanged or refused, with the
fields that changed (secret values are redacted before they get here)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from k8s_multicluster_mcp.common.clock import utcnow
from k8s_multicluster_mcp.common.text import one_line, safe_lines
from k8s_multicluster_mcp.render.base import ClusterOut, provenance
from k8s_multicluster_mcp.render.objects import clip, dump
from k8s_multicluster_mcp.writes.writer import WriteResult

MAX_CHANGES = 40
"""Changed fields listed per object; more are counted."""


class ChangeOut(BaseModel):
    path: str
    before: Any = None
    after: Any = None


class OutcomeOut(BaseModel):
    verb: str
    kind: str
    namespace: str | None = None
    name: str
    changes: list[ChangeOut] = []
    object: dict[str, Any] | None = None
    error: str | None = None
    detail: str | None = None


class WriteOutput(BaseModel):
    context: str
    dry_run: bool
    clusters: list[ClusterOut]
    items: list[OutcomeOut]
    output: str | None = None


def render_write(result: WriteResult, now: datetime | None = None) -> tuple[str, WriteOutput]:
    """What a write did (or would do, dry run): per object its verb and the fields that changed;
    created objects in full (cleaned); failures with their reason."""
    now = now or utcnow()
    structured = WriteOutput(
        context=result.context,
        dry_run=result.dry_run,
        clusters=[ClusterOut.of(result.report, now)],
        items=[
            OutcomeOut(
                verb=o.verb, kind=o.kind, namespace=o.namespace, name=o.name,
                changes=[ChangeOut(path=c.path, before=c.before, after=c.after) for c in o.changes],
                object=o.object, error=o.error, detail=o.detail,
            )
            for o in result.outcomes
        ],
        output=result.output,
    )  # fmt: skip
    lines = provenance([result.report], now)
    if result.dry_run and result.report.status == "ok":
        lines.append("DRY RUN: the API server checked this write; nothing was changed.")
    for o in result.outcomes:
        where = f"{o.namespace}/" if o.namespace else ""
        tail = f" — {o.error}" if o.error else (f" ({o.detail})" if o.detail else "")
        lines.append(one_line(f"{o.kind} {where}{o.name}: {o.verb}{tail}"))
        for c in o.changes[:MAX_CHANGES]:
            lines.append("  " + one_line(f"{c.path}: {_value(c.before)} -> {_value(c.after)}"))
        if len(o.changes) > MAX_CHANGES:
            lines.append(f"  … {len(o.changes) - MAX_CHANGES} more changed fields")
        if o.object is not None:
            lines.append(clip(dump(o.object)))
    if result.output is not None:
        lines.append(safe_lines(result.output) if result.output else "(no output)")
    return "\n".join(lines), structured


def _value(value: Any) -> str:
    return "<none>" if value is None else json.dumps(value, ensure_ascii=False, default=str)[:200]
